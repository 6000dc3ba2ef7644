"""`opsbook alerts render|test`: Prometheus rules generated from the facts, and their proof."""

from __future__ import annotations

from pathlib import Path

import click

from opsbook.alerts.generate import RULES_FILE, default_out, drift, prove, write_rules
from opsbook.cli.context import AppContext, pass_app
from opsbook.errors import OpsbookError
from opsbook.project import display_path


@click.group()
def alerts() -> None:
    """Prometheus alert rules generated from the facts."""


@alerts.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for opsbook.rules.yml (default: sandbox/prometheus/rules/).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; fail if the file there differs from a fresh render (hand edits).",
)
@pass_app
def render(app: AppContext, out: Path | None, check: bool) -> None:
    """Write the alerting and recording rules rendered from facts/thresholds.yml."""
    facts = app.facts
    out_dir = out or default_out(app.project)
    shown = display_path(out_dir / RULES_FILE)
    if check:
        diff = drift(facts, out_dir, shown_as=shown)
        if diff is None:
            click.echo(f"{shown}: matches the facts")
            return
        click.echo(diff, err=True, nl=False)
        raise OpsbookError(
            f"{shown}: differs from a fresh render of facts/thresholds.yml (edited by hand, "
            "or the facts changed); change the facts, then run `opsbook alerts render`"
        )
    path = write_rules(facts, out_dir)
    click.echo(f"wrote {display_path(path)}")


@alerts.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the rules and the test suite here instead of a temporary directory.",
)
@pass_app
def test(app: AppContext, keep: Path | None) -> None:
    """Run `promtool check rules` and the generated `promtool test rules` suite."""
    proof = prove(app.facts, keep_dir=keep)
    runs = [proof.check] + ([proof.test] if proof.test else [])
    for run in runs:
        status = "ok" if run.ok else f"FAILED (exit {run.returncode})"
        click.echo(f"{run.command}: {status} in {run.seconds:.2f} s")
        if not run.ok:
            click.echo(run.output.rstrip(), err=True)
    if not proof.ok:
        raise OpsbookError(f"{runs[-1].command}: failed (output above)")
    click.echo(f"{proof.rules} rules, {proof.cases} alert test cases: all pass")
