"""`opsbook scenarios list --json`: every scenario on the site with its fault and last result."""

from __future__ import annotations

import json

from click.testing import CliRunner

from opsbook.cli import main
from opsbook.harness.model import RunResults, ScenarioResult
from opsbook.harness.reporting.results import write
from opsbook.project import Project


def test_lists_every_scenario_with_its_last_result(project_copy: Project) -> None:
    args = ["--project", str(project_copy.root), "scenarios", "list", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = {r["fault"]: r for r in json.loads(result.stdout)["scenarios"]}
    errors = rows["api-errors"]
    assert errors["page"] == "troubleshooting.md" and errors["anchor"] == "high-error-rate"
    assert errors["alerts"] == ["OpsbookErrorRateWarning", "OpsbookErrorRateCritical"]
    assert errors["last"] is None

    run = RunResults("abc1234", "2026-11-23T04:00:00+00:00", state="complete")
    run.scenarios.append(ScenarioResult(
        "troubleshooting.md", errors["line"], "api-errors", "passed",
        alerts=errors["alerts"], fired=errors["alerts"], seconds_to_fire=31.5,
        diagnosis_showed=True, diagnosis_unchanged=True, mitigated=True, recovered=True,
        seconds_to_mitigate=58.0,
    ))
    write(run, project_copy.state_dir)
    rows = {r["fault"]: r for r in json.loads(CliRunner().invoke(main, args).stdout)["scenarios"]}
    last = rows["api-errors"]["last"]
    assert last["status"] == "passed" and last["seconds_to_fire"] == 31.5
    assert last["diagnosis_showed"] and last["recovered"] and last["commit"] == "abc1234"
    assert rows["redis-down"]["last"] is None
