"""The scenario engine with a fault that lives in files of the run's HOME (real bash, no
sandbox): its "alert" fires when the fault is injected and resolves when the mitigation
removes it. The sandbox's own faults are proven in tests/integration/test_scenarios.py
and by the site's runbooks."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from opsbook.facts import load_facts
from opsbook.facts.model import Fault
from opsbook.harness.model import ScenarioResult
from opsbook.harness.reading.plan import Plan, read_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.harness.verify import verify

FACTS = load_facts(Path(__file__).resolve().parents[1] / "facts")
ALERT = "OpsbookErrorRateCritical"
FAULT = Fault(
    id="file-fault",
    title="a file says the alert fires",
    inject=f'echo "{ALERT} firing" > "$HOME/firing"\n'
    f'echo "$(date +%s) {ALERT} firing" > "$HOME/delivered"',
    restore='rm -f "$HOME/firing"',
    alerts=[ALERT],
    signature="fault: on",
    runbook="runbook.md#fault",
)
DRILL = FACTS.model_copy(
    update={
        "faults": [FAULT],
        "scenarios": FACTS.scenarios.model_copy(
            update={
                "firing": 'cat "$HOME/firing" 2>/dev/null || true',
                "delivered": 'cat "$HOME/delivered" 2>/dev/null || true',
                "state": 'ls "$HOME"',
                "fire_timeout": "10s",
                "recover_timeout": "10s",
            }
        ),
    }
)


def runbook(mitigation: str) -> str:
    return (
        "# Runbook\n\n## The fault { #fault }\n\n"
        "<!-- opsbook: scenario=file-fault phase=diagnosis -->\n"
        '```bash\ntest -e "$HOME/firing" && echo "fault: on"\n```\n\n'
        f"<!-- opsbook: scenario=file-fault phase=mitigation -->\n```bash\n{mitigation}\n```\n"
    )


def run(markdown: str) -> list[ScenarioResult]:
    forbidden = Forbidden.from_facts(FACTS)
    page = read_page("runbook.md", markdown, forbidden, {FAULT.id})
    assert not page.problems, page.problems
    seen: list[ScenarioResult] = []
    verify(Plan([page], forbidden, DRILL), on_scenario=seen.append)
    return seen


def test_a_scenario_that_runs_to_its_end_is_proven() -> None:
    [res] = run(runbook('rm "$HOME/firing"'))
    assert res.status == "passed", res.message
    assert res.fired == [ALERT] and res.diagnosis_showed and res.diagnosis_unchanged
    assert res.mitigated and res.recovered
    assert res.seconds is not None and res.seconds_to_fire is not None


def test_kubernetes_variants_in_tabs_between_its_steps_do_not_end_a_scenario() -> None:
    def tabs(directive: str, compose: str) -> str:
        return (
            f'=== "Docker Compose"\n\n    <!-- opsbook: {directive} -->\n'
            f"    ```bash\n    {compose}\n    ```\n\n"
            '=== "Kubernetes"\n\n    ```bash\n    kubectl get pods\n    ```\n\n'
        )

    [res] = run(
        "# Runbook\n\n## The fault { #fault }\n\n"
        + tabs("scenario=file-fault phase=diagnosis", 'test -e "$HOME/firing" && echo "fault: on"')
        + tabs("scenario=file-fault phase=mitigation", 'rm "$HOME/firing"')
    )
    assert res.status == "passed", res.message
    assert res.diagnosis_showed and res.mitigated and res.recovered


def test_a_mitigation_that_does_not_clear_the_alert_is_not_proven() -> None:
    [res] = run(runbook("echo looked at it"))
    assert res.status == "failed" and not res.recovered
    assert f"still did not resolve within 10s: {ALERT} (firing)" in res.message


def test_a_run_stopped_mid_scenario_is_not_proven() -> None:
    """SIGTERM (a cancelled CI job) during the mitigation: nothing failed, but the
    scenario did not finish, so it must not say proven."""
    forbidden = Forbidden.from_facts(FACTS)
    page = read_page("runbook.md", runbook('sleep 20\nrm "$HOME/firing"'), forbidden, {FAULT.id})
    seen: list[ScenarioResult] = []
    timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            verify(Plan([page], forbidden, DRILL), on_scenario=seen.append)
    finally:
        timer.cancel()
    [res] = seen
    assert res.status == "failed"
    assert "stopped" in res.message, res.message


def test_a_failed_scenario_is_restored_and_the_next_one_still_runs() -> None:
    second = FAULT.model_copy(update={"id": "file-fault-2", "runbook": "runbook.md#again"})
    drill = DRILL.model_copy(update={"faults": [FAULT, second]})
    forbidden = Forbidden.from_facts(FACTS)
    text = (
        runbook("echo looked at it")  # does not clear: fails, restored
        + "\n```bash\necho between\n```\n\n"
        + runbook('rm "$HOME/firing"')
        .replace("# Runbook\n\n", "")
        .replace("#fault", "#again")
        .replace("scenario=file-fault ", "scenario=file-fault-2 ")
    )
    page = read_page("runbook.md", text, forbidden, {FAULT.id, second.id})
    assert not page.problems, page.problems
    seen: list[ScenarioResult] = []
    results = verify(Plan([page], forbidden, drill), on_scenario=seen.append)
    assert [s.status for s in seen] == ["failed", "passed"], [s.message for s in seen]
    assert [b.status for b in results.blocks] == ["passed", "failed", "passed", "passed", "passed"]
    assert results.failed
