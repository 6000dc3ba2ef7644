"""The site as it stands: every shell block classified, at least 90 % of them executed.

Running them is the job of `pytest --opsbook` (one item per block, `page.md:LINE`), which
`nox -s tests` does against the sandbox; this checks the classification without Docker.
"""

from __future__ import annotations

from collections import Counter

from opsbook.harness.collect import load
from opsbook.project import Project


def test_every_block_is_classified_and_at_least_90_percent_run(repo_project: Project) -> None:
    pages, _forbidden, _facts = load(repo_project)
    problems = [p for page in pages for p in page.problems]
    assert not problems, "\n".join(problems)
    kinds = Counter(step.cls.kind for page in pages for step in page.steps)
    total = sum(kinds.values())
    assert set(kinds) <= {"run", "skip"}, kinds  # nothing refused or unknown
    assert total >= 60, f"only {total} shell blocks found on the site: extraction lost some"
    assert kinds["run"] >= 0.9 * total, f"only {kinds['run']} of {total} blocks run"
