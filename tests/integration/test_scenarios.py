"""Fault scenarios against the real sandbox: a runbook is proven only against its own fault.

The redis-down fault fires no alert, so these run in seconds; the site's own runbooks
(troubleshooting.md) are proven by the doc run, alerts included.
"""

from __future__ import annotations

import pytest

from opsbook.harness.model import RunResults
from opsbook.harness.reading.plan import Plan, read_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.harness.verify import verify

pytestmark = pytest.mark.integration

DIAGNOSIS = "<!-- opsbook: scenario=redis-down phase=diagnosis -->"
MITIGATION = "<!-- opsbook: scenario=redis-down phase=mitigation -->"
READY = 'curl -s "http://127.0.0.1:$PROXY_PORT/health/ready"'


def run_runbook(sandbox, markdown: str) -> RunResults:
    facts = sandbox.facts
    page = read_page("runbook.md", markdown, Forbidden(), {f.id for f in facts.faults})
    assert not page.problems, page.problems
    assert len(page.scenarios) == 1
    try:
        return verify(Plan([page], Forbidden(), facts), project=sandbox.project,
                      write_results=False)
    finally:
        sandbox.ensure_healthy()


def runbook(diagnosis: str, mitigation: str = "docker compose start redis") -> str:
    return (
        f"# Runbook\n\n{DIAGNOSIS}\n```bash\n{diagnosis}\n```\n\n"
        f"{MITIGATION}\n```bash\n{mitigation}\n```\n\n"
        f"<!-- opsbook: scenario=redis-down phase=mitigation retry=60 -->\n"
        f"```bash\ncurl -fsS \"http://127.0.0.1:$PROXY_PORT/health/ready\"\n```\n"
    )


def test_a_runbook_that_diagnoses_and_fixes_its_fault_is_proven(sandbox) -> None:
    results = run_runbook(sandbox, runbook(READY))
    [scenario] = results.scenarios
    assert scenario.status == "passed", scenario.message
    assert scenario.diagnosis_showed and scenario.diagnosis_unchanged
    assert scenario.mitigated and scenario.recovered
    assert [b.status for b in results.blocks] == ["passed"] * 3


def test_a_diagnosis_that_checks_the_wrong_service_does_not_prove_it(sandbox) -> None:
    results = run_runbook(sandbox, runbook("docker compose ps --format '{{.Service}}' postgres"))
    [scenario] = results.scenarios
    assert scenario.status == "failed"
    assert not scenario.diagnosis_showed
    assert "did not show fault redis-down" in scenario.message
    # the sandbox was restored all the same
    code, _ = sandbox.request("proxy", "/health/ready")
    assert code == 200


def test_a_diagnosis_that_changes_the_sandbox_fails_the_scenario(sandbox) -> None:
    results = run_runbook(sandbox, runbook(f"{READY}\ndocker compose restart worker"))
    [scenario] = results.scenarios
    assert scenario.status == "failed"
    assert scenario.diagnosis_showed and not scenario.diagnosis_unchanged
    assert "the diagnosis changed the sandbox" in scenario.message
    assert "started=" in scenario.message  # the state diff names what changed


def test_the_fault_is_restored_even_when_the_mitigation_fails(sandbox) -> None:
    results = run_runbook(sandbox, runbook(READY, mitigation="false"))
    [scenario] = results.scenarios
    assert scenario.status == "failed" and not scenario.recovered
    code, _ = sandbox.request("proxy", "/health/ready")
    assert code == 200, "restore did not bring Redis back"
