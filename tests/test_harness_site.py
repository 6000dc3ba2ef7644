"""The site as it stands: every shell block classified, at least 90 % of its steps executed.

Running them is the job of `pytest --opsbook` (one item per block, `page.md:LINE`), which
`nox -s tests` does against the sandbox; this checks the classification without Docker.
"""

from __future__ import annotations

from collections import Counter

from opsbook.harness.inventory import steps, summary
from opsbook.harness.reading.plan import plan_pages, read_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.project import Project


def test_every_block_is_classified_and_at_least_90_percent_of_steps_run(
    repo_project: Project,
) -> None:
    plan = plan_pages(repo_project)
    assert not plan.problems, "\n".join(map(str, plan.problems))
    kinds = Counter(step.classification.kind for page in plan.pages for step in page.steps)
    total = sum(kinds.values())
    assert set(kinds) <= {"run", "skip"}, kinds  # nothing refused or unknown
    assert total >= 150, f"only {total} shell blocks found on the site: extraction lost some"
    counts = summary(plan.pages)
    # staging, production and Kubernetes variants never run here; the step they belong to
    # must have run in its sandbox variant
    assert counts["steps run"] >= 0.9 * counts["steps"], counts


def test_tab_variants_of_one_command_are_one_step() -> None:
    text = "\n".join([
        '=== "Sandbox"', "", "    ```bash", "    echo a", "    ```", "",
        '=== "Staging"', "", "    ```bash", "    echo a-staging", "    ```", "",
        "Prose between two tab sets with the same titles.", "",
        '=== "Sandbox"', "", "    ```bash", "    echo b", "    ```", "",
        '=== "Production"', "", "    ```bash", "    echo b-production", "    ```", "",
        "```bash", "echo c", "```", "",
        '=== "Kubernetes"', "", "    ```bash", "    kubectl get pods", "    ```", "",
    ])
    page = read_page("p.md", text, Forbidden())
    assert not page.problems, page.problems
    groups = [[b.body for b, _ in g] for g in steps(page)]
    assert groups == [["echo a", "echo a-staging"], ["echo b", "echo b-production"],
                      ["echo c"], ["kubectl get pods"]]
    counts = summary([page])
    assert (counts["steps"], counts["steps run"]) == (4, 3)  # the lone Kubernetes step
