"""Planning fault scenarios: which blocks run while a fault is injected, and bad markup."""

from __future__ import annotations

import pytest

from opsbook.harness.reading.plan import read_page
from opsbook.harness.running.isolation import Forbidden

FAULTS = {"api-errors", "redis-down"}


def block(directive: str, body: str = "true") -> str:
    return f"<!-- opsbook: {directive} -->\n```bash\n{body}\n```\n\n"


def test_consecutive_blocks_of_one_fault_are_one_scenario() -> None:
    page = read_page(
        "r.md",
        "```bash\necho before\n```\n\n"
        + block("scenario=api-errors phase=diagnosis")
        + block("scenario=api-errors phase=diagnosis")
        + block("scenario=api-errors phase=mitigation"),
        Forbidden(),
        FAULTS,
    )
    assert not page.problems, page.problems
    [scenario] = page.scenarios
    assert scenario.fault == "api-errors" and scenario.line == 6
    assert scenario.steps == ("r.md:6", "r.md:11", "r.md:16")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (block("scenario=nope phase=diagnosis"), "scenario=nope: no such fault"),
        (block("scenario=api-errors phase=mitigation"), "diagnosis blocks first"),
        (
            block("scenario=api-errors phase=diagnosis")
            + "```bash\necho in between\n```\n\n"
            + block("scenario=api-errors phase=diagnosis"),
            "must follow one another",
        ),
        (block("scenario=api-errors"), "needs both scenario=FAULT and phase="),
        (block("phase=treatment scenario=api-errors"), "phase=treatment: use phase=diagnosis"),
        (block("setup scenario=api-errors phase=diagnosis"), "a setup block cannot be part"),
    ],
)
def test_bad_scenario_markup_is_an_error_naming_page_and_line(text: str, expected: str) -> None:
    page = read_page("r.md", text, Forbidden(), FAULTS)
    assert any(expected in str(p) and str(p).startswith("r.md:") for p in page.problems), (
        page.problems
    )


def tabbed(directive: str, compose: str, kubernetes: str) -> str:
    return (
        f'=== "Docker Compose"\n\n    <!-- opsbook: {directive} -->\n    ```bash\n    {compose}\n'
        f'    ```\n\n=== "Kubernetes"\n\n    ```bash\n    {kubernetes}\n    ```\n\n'
    )


def test_kubernetes_variants_between_a_scenarios_blocks_do_not_split_it() -> None:
    page = read_page(
        "r.md",
        tabbed("scenario=redis-down phase=diagnosis", "docker compose ps redis",
               "kubectl get statefulset/redis")
        + tabbed("scenario=redis-down phase=mitigation", "docker compose start redis",
                 "kubectl scale statefulset/redis --replicas=1"),
        Forbidden(),
        FAULTS,
    )
    assert not page.problems, page.problems
    [scenario] = page.scenarios
    assert scenario.steps == ("r.md:4", "r.md:17")
    skipped = [c.reason for b, c in page.classified if b.body.startswith("kubectl")]
    assert skipped == ["needs-kubernetes", "needs-kubernetes"]
