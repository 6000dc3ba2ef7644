"""`opsbook test [PAGE ...]`: run the site's shell blocks against the sandbox."""

from __future__ import annotations

import dataclasses
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from opsbook.cli.context import AppContext, pass_app
from opsbook.errors import OpsbookError
from opsbook.harness.model import BlockResult, PagePlan, RunResults, ScenarioResult

if TYPE_CHECKING:
    from opsbook.harness.reading.plan import Plan

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
@click.option(
    "--changed",
    is_flag=True,
    help="Run only pages whose result key (the rendered page, the facts its run reads, "
    "the sandbox's files, the opsbook version) differs from their last passing run; the "
    "rest keep that run's results, and their badges keep its date.",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Run only part I of N of the pages (a CI matrix job), balanced by the page "
    "durations of earlier runs; merge the parts with `opsbook results merge`.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run pages on N sandboxes at once, each its own compose project and port block "
    "(platform.sandbox_instances in the facts).",
)
@click.option(
    "--results",
    "results_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the results to FILE instead of .opsbook/results.json, leaving the kept "
    "page results alone (a part of a larger run).",
)
@click.option(
    "--backend",
    type=click.Choice(["compose", "kind"]),
    default="compose",
    show_default=True,
    help="What the pages run against. kind: the same platform on a kind cluster "
    "(`opsbook sandbox up --backend kind`), the Kubernetes tabs executed and the Compose "
    "ones not; results go to .opsbook/results-kind.json.",
)
@click.option("--no-build", is_flag=True, hidden=True)  # -j workers: the images are built
@click.argument("pages", nargs=-1)
@pass_app
def test(
    app: AppContext,
    update: bool,
    no_sandbox: bool,
    changed: bool,
    shard: str | None,
    jobs: int,
    results_path: Path | None,
    backend: str,
    no_build: bool,
    pages: tuple[str, ...],
) -> None:
    """Execute every shell block against the sandbox (all pages, or PAGEs under docs/).

    Brings the sandbox up, runs each page in its own shell session, takes the sandbox
    down, and writes .opsbook/results.json as each block finishes (the site's badges
    read it). Exit status 1 if any block failed, was refused or was blocked.
    """
    from opsbook.harness.reading.plan import plan_pages
    from opsbook.harness.reporting import keys as result_keys
    from opsbook.harness.reporting import store
    from opsbook.harness.verify import default_target, verify

    project = app.project
    kind = backend == "kind"
    if kind and (jobs > 1 or shard or changed):
        raise OpsbookError("--backend kind runs one cluster: no -j, --shard or --changed")
    plan = plan_pages(project, None, list(pages) or None, backend="kind" if kind else "compose")
    if plan.problems:
        raise OpsbookError([str(p) for p in plan.problems])
    if kind and results_path is None:
        results_path = project.state_dir / "results-kind.json"
    if jobs > 1 and no_sandbox:
        raise OpsbookError("-j runs a sandbox per worker; it cannot use --no-sandbox")
    from opsbook.facts.instances import instance_from_env

    limit = app.facts.platform.sandbox_instances.max
    base = instance_from_env(app.facts)  # workers take instances base .. base + jobs - 1
    if base + jobs > limit:
        raise OpsbookError(
            f"-j {jobs} from sandbox instance {base}: the facts allow instances 0 to "
            f"{limit - 1} (platform.sandbox_instances.max); use fewer jobs or raise it"
        )
    keys = result_keys.plan_keys(plan.pages, plan.facts, project.sandbox_dir)
    if shard:
        from opsbook.harness.shard import parse_shard, split

        i, n = parse_shard(shard)
        mine = split(plan.pages, n, lambda p: store.seconds(project.state_dir, p))[i - 1]
        click.echo(f"shard {i}/{n}: {len(mine)} of {len(plan.pages)} pages")
        plan = dataclasses.replace(plan, pages=mine)
    reuse = {}
    if changed:
        for p in plan.pages:
            earlier = store.reusable(project.state_dir, p.page, keys[p.page])
            if earlier is not None:
                reuse[p.page] = earlier
        for page, earlier in reuse.items():
            record = earlier.record(page)
            assert record is not None
            click.echo(f"{page}: unchanged, still verified by the run at {record.commit} "
                       f"on {record.time}")
        click.echo(f"{len(plan.pages) - len(reuse)} of {len(plan.pages)} pages to run")

    def say(line: str) -> None:
        click.echo(f"sandbox: {line}")

    started = time.monotonic()
    shown_path = results_path or project.state_dir / "results.json"
    try:
        if jobs > 1:
            results = _parallel(app, plan, keys, reuse, jobs, results_path, base)
        else:
            if kind:
                from opsbook.sandbox.kind import KindSandbox

                target = KindSandbox(project, app.facts, say, build=not no_build)
            else:
                target = default_target(project, app.facts, say, build=not no_build)
            results = verify(
                plan,
                project=project,
                target=target,
                manage_target=not no_sandbox,
                progress=_progress,
                on_page=_page,
                on_scenario=_scenario,
                keys=keys,
                reuse=reuse,
                results_path=results_path,
                backend="kind" if kind else "compose",
            )
    except KeyboardInterrupt:
        # Cleanup is done; a second Ctrl-C now would only turn exit 130 into death by
        # SIGINT halfway through this message
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        done = "" if no_sandbox else "; the sandbox was taken down"
        click.echo(
            f"\ninterrupted after {time.monotonic() - started:.1f}s: every finished block is "
            f"in {shown_path} (marked interrupted){done}",
            err=True,
        )
        sys.exit(130)
    counts = results.counts()
    reused = sum(1 for r in results.pages if r.reused)
    ran = f"{', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}" or "nothing run"
    if reused:
        ran += f" ({reused} pages reused from earlier runs)"
    click.echo(f"\n{ran} in {time.monotonic() - started:.1f}s; results in {shown_path}")
    if update:
        from opsbook.harness.reporting.update import update_page

        for p in plan.pages:
            if p.page in reuse:
                continue
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


def _parallel(
    app: AppContext,
    plan: Plan,
    keys: dict[str, str],
    reuse: dict[str, RunResults],
    jobs: int,
    results_path: Path | None,
    base: int,
) -> RunResults:
    """Split the pages to run over sandbox instances base .. base + jobs - 1 (instance 0
    unless OPSBOOK_SANDBOX_INSTANCE says otherwise), run them, merge."""
    from opsbook.harness import parallel
    from opsbook.harness.reporting import results as results_file
    from opsbook.harness.reporting import store
    from opsbook.harness.shard import split
    from opsbook.sandbox import build_images

    project = app.project
    todo = [p for p in plan.pages if p.page not in reuse and p.steps]
    parts = [b for b in split(todo, jobs, lambda p: store.seconds(project.state_dir, p)) if b]
    workers = [
        parallel.Worker(base + k, tuple(p.page for p in part),
                        project.state_dir / f"results-j{base + k}.json")
        for k, part in enumerate(parts)
    ]
    for w in workers:
        w.results.unlink(missing_ok=True)
        click.echo(f"worker {w.instance}: {len(w.pages)} pages on sandbox instance {w.instance}")
    if workers:
        build_images(project, app.facts, lambda line: click.echo(f"sandbox: {line}"))
    codes = parallel.run_workers(project.root, workers, click.echo)
    if 130 in codes or any(c < 0 for c in codes):
        raise KeyboardInterrupt  # the workers were stopped; each took its sandbox down
    broken = [
        f"worker {w.instance} (sandbox instance {w.instance}) stopped with exit {c} before "
        f"writing its results; its pages ({', '.join(w.pages)}) were not verified; its "
        "output is above"
        for w, c in zip(workers, codes, strict=True)
        if c not in (0, 1) or not w.results.is_file()
    ]
    if broken:
        raise OpsbookError(broken)
    earlier = [res.carried(page) for page, res in reuse.items()]
    merged = parallel.collect(workers, keys, earlier)
    if results_path is None:
        store.publish(merged, project.state_dir)
    else:
        results_file.write_file(merged, results_path)
    return merged
