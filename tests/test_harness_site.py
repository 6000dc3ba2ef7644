"""The site as it stands: every shell block classified, at least 90 % of them executed.

Running them is the job of `pytest --opsbook` (one item per block, `page.md:LINE`), which
`nox -s tests` does against the sandbox; this checks the classification without Docker.
"""

from __future__ import annotations

from collections import Counter

from opsbook.harness.reading.plan import plan_pages
from opsbook.project import Project


def test_every_block_is_classified_and_at_least_90_percent_run(repo_project: Project) -> None:
    plan = plan_pages(repo_project)
    assert not plan.problems, "\n".join(map(str, plan.problems))
    kinds = Counter(step.classification.kind for page in plan.pages for step in page.steps)
    total = sum(kinds.values())
    assert set(kinds) <= {"run", "skip"}, kinds  # nothing refused or unknown
    assert total >= 60, f"only {total} shell blocks found on the site: extraction lost some"
    assert kinds["run"] >= 0.9 * total, f"only {kinds['run']} of {total} blocks run"
