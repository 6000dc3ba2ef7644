"""`opsbook scenarios list [--json]`: every runbook proven against a fault, and how it went."""

from __future__ import annotations

import json

import click

from opsbook.cli.context import AppContext, pass_app
from opsbook.errors import OpsbookError


@click.group()
def scenarios() -> None:
    """Runbook sections proven against their own fault (facts/faults.yml)."""


@scenarios.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per scenario.")
@pass_app
def list_(app: AppContext, as_json: bool) -> None:
    """Every scenario: page, anchor, fault, the alerts it must fire, and its last result
    (status, alerts fired, whether the diagnosis showed the fault, seconds to fire and to
    mitigate) from .opsbook/results.json."""
    from opsbook.harness.inventory import scenario_rows
    from opsbook.harness.reading.plan import plan_pages
    from opsbook.harness.reporting.results import read

    plan = plan_pages(app.project)
    rows = scenario_rows(plan.pages, plan.facts, read(app.project.state_dir))
    if as_json:
        click.echo(json.dumps({"scenarios": rows}, indent=1))
    else:
        for r in rows:
            last = r["last"]
            how = "never run" if last is None else last["status"]
            if last and last["status"] == "passed":
                fired = f"fired after {last['seconds_to_fire']}s, " if last["fired"] else ""
                cleared = (
                    f"cleared in {last['seconds_to_mitigate']}s"
                    if last["mitigated"]
                    else "diagnosis only"
                )
                how += f" ({fired}{cleared})"
            where = f"{r['page']}#{r['anchor']}"
            click.echo(f"{where:<50} {r['fault']:<24} {how}")
    if plan.problems:
        raise OpsbookError([str(p) for p in plan.problems])
