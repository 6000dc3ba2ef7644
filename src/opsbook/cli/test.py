"""`opsbook test [PAGE ...]`: run the site's shell blocks against the sandbox."""

from __future__ import annotations

import sys
import time

import click

from opsbook.cli.context import AppContext, pass_app
from opsbook.errors import OpsbookError
from opsbook.harness.model import BlockResult, PagePlan, ScenarioResult

MARKS = {
    "passed": "ok",
    "skipped": "skip",
    "failed": "FAIL",
    "blocked": "blocked",
    "refused": "REFUSED",
}


def _page(page: PagePlan) -> None:
    click.echo(page.page)


def _scenario(res: ScenarioResult) -> None:
    if res.status == "passed":
        fired = (
            f"{', '.join(res.fired)} fired after {res.seconds_to_fire:g}s, " if res.fired else ""
        )
        cleared = (
            f"mitigation cleared it in {res.seconds_to_mitigate or 0:g}s"
            if res.mitigated
            else "no mitigation on this section"
        )
        click.echo(f"  PROVEN   {res.id}: {fired}diagnosis showed it, {cleared}")
    else:
        click.echo(f"  NOT PROVEN {res.id}: {res.message}")


def _progress(res: BlockResult) -> None:
    extra = f"  ({res.reason})" if res.reason else ""
    click.echo(f"  {MARKS[res.status]:<8} {res.id:<32} {res.duration:6.2f}s{extra}")
    if res.status in ("failed", "refused"):
        click.echo(f"           {res.message}")
        if res.diff:
            click.echo("\n".join("           " + x for x in res.diff.split("\n")))
        elif res.actual:
            tail = res.actual.rstrip().split("\n")[-15:]
            click.echo("\n".join("           | " + x for x in tail))


@click.command()
@click.option("--update", is_flag=True, help="Rewrite expected output on the pages from what ran.")
@click.option(
    "--no-sandbox",
    is_flag=True,
    help="Use the sandbox that is already running: no up before, no down after.",
)
@click.argument("pages", nargs=-1)
@pass_app
def test(app: AppContext, update: bool, no_sandbox: bool, pages: tuple[str, ...]) -> None:
    """Execute every shell block against the sandbox (all pages, or PAGEs under docs/).

    Brings the sandbox up, runs each page in its own shell session, takes the sandbox
    down, and writes .opsbook/results.json as each block finishes (the site's badges
    read it). Exit status 1 if any block failed, was refused or was blocked.
    """
    from opsbook.harness.reading.plan import plan_pages
    from opsbook.harness.verify import default_target, verify

    project = app.project
    plan = plan_pages(project, None, list(pages) or None)
    if plan.problems:
        raise OpsbookError([str(p) for p in plan.problems])

    def say(line: str) -> None:
        click.echo(f"sandbox: {line}")

    started = time.monotonic()
    results_path = project.state_dir / "results.json"
    try:
        results = verify(
            plan,
            project=project,
            target=default_target(project, app.facts, say),
            manage_target=not no_sandbox,
            progress=_progress,
            on_page=_page,
            on_scenario=_scenario,
        )
    except KeyboardInterrupt:
        done = "" if no_sandbox else "; the sandbox was taken down"
        click.echo(
            f"\ninterrupted after {time.monotonic() - started:.1f}s: every finished block is "
            f"in {results_path} (marked interrupted){done}",
            err=True,
        )
        sys.exit(130)
    counts = results.counts()
    click.echo(
        f"\n{', '.join(f'{v} {k}' for k, v in sorted(counts.items()))} "
        f"in {time.monotonic() - started:.1f}s; results in {results_path}"
    )
    if update:
        from opsbook.harness.reporting.update import update_page

        for p in plan.pages:
            for msg in update_page(p, results.for_page(p.page), project.docs_dir / p.page):
                click.echo(msg)
    for proc in results.procedures:
        mark = "PROVEN" if proc.status == "passed" else "NOT PROVEN"
        click.echo(
            f"  {mark} {proc.page} under {proc.rate or 0:g} jobs/s for {proc.seconds or 0:g}s: "
            f"{proc.accepted} accepted, {proc.completed} completed, {proc.failed} failed, "
            f"{proc.lost} lost; {proc.refused} refused, {proc.errors} 5xx"
            + (f" -- {proc.message}" if proc.message else "")
        )
    for unclean in results.cleanup:
        click.echo(f"UNCLEAN  {unclean.page}: {unclean.message}", err=True)
    if results.failed:
        sys.exit(1)
