"""`opsbook snippets list` and `opsbook test`."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import click

from opsbook.cli_context import project_from
from opsbook.errors import OpsbookError
from opsbook.harness import report
from opsbook.harness.collect import Page, load
from opsbook.harness.model import SHELL_LANGS, BlockResult, Classification
from opsbook.project import Project


def _project(ctx: click.Context, required: bool) -> Project | None:
    try:
        return project_from(ctx)
    except OpsbookError:
        if required:
            raise
        return None


def _target(c: Classification) -> str:
    if c.kind == "run":
        return "sandbox"
    if c.kind == "refused":
        return "refused"
    reason = c.reason.value if c.reason else ""
    return {
        "needs-kubernetes": "kubernetes",
        "production-only": "production",
        "staging-only": "staging",
    }.get(reason, "-")


def _label(c: Classification) -> str:
    if c.kind == "skip":
        return f"skip:{c.reason.value if c.reason else '?'}"
    if c.kind == "run" and c.role != "main":
        return f"run:{c.role}"
    return c.kind


def summary(pages: list[Page]) -> tuple[dict[str, int], list[str]]:
    counts: Counter[str] = Counter()
    problems: list[str] = []
    for p in pages:
        problems += p.problems
        bad = {pr.split(": ", 1)[0] for pr in p.problems}
        for b, c in p.shell:
            counts["shell blocks"] += 1
            if b.id in bad:
                counts["unclassified"] += 1
            elif c.kind == "run":
                counts["run"] += 1
            elif c.kind == "skip":
                counts["skipped"] += 1
                counts[f"  skip:{c.reason.value if c.reason else '?'}"] += 1
            else:
                counts[c.kind] += 1
    return dict(counts), problems


@click.group()
def snippets() -> None:
    """List and classify the shell blocks on the site."""


@snippets.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per block.")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def list_(ctx: click.Context, as_json: bool, paths: tuple[Path, ...]) -> None:
    """Every fenced block with its classification.

    Without PATHs: the rendered site pages (facts applied, snippets included). With PATHs:
    those Markdown files as they are.
    """
    project = _project(ctx, required=not paths)
    pages, _, _ = load(project, list(paths) or None)
    rows = []
    for p in pages:
        for b, c in p.classified:
            if b.lang not in SHELL_LANGS and c.kind != "output":
                continue
            rows.append(
                {
                    "page": b.page,
                    "line": b.line,
                    "id": b.id,
                    "lang": b.lang,
                    "classification": _label(c),
                    "role": c.role,
                    "reason": c.reason.value if c.reason else None,
                    "target": _target(c),
                    "hidden": b.hidden,
                    "why": c.why,
                    "body": b.body,
                }
            )
    counts, problems = summary(pages)
    if as_json:
        click.echo(json.dumps({"blocks": rows, "counts": counts, "problems": problems}, indent=1))
    else:
        for r in rows:
            first = r["body"].strip().split("\n", 1)[0]
            click.echo(
                f"{r['id']:<32} {r['lang']:<8} {r['classification']:<24} "
                f"{r['target']:<10} {first[:60]}"
            )
        click.echo("")
        total = counts.get("shell blocks", 0)
        for k, v in counts.items():
            click.echo(f"{k:<24} {v}")
        if total:
            run = counts.get("run", 0)
            classified = total - counts.get("unclassified", 0)
            click.echo(f"classified               {100 * classified / total:.1f} %")
            click.echo(f"executed                 {100 * run / total:.1f} %")
    if problems:
        raise OpsbookError(problems)


def _progress(res: BlockResult) -> None:
    mark = {
        "passed": "ok",
        "skipped": "skip",
        "failed": "FAIL",
        "blocked": "blocked",
        "refused": "REFUSED",
    }[res.status]
    extra = f"  ({res.reason})" if res.reason else ""
    click.echo(f"  {mark:<8} {res.id:<32} {res.duration:6.2f}s{extra}")
    if res.status in ("failed", "refused"):
        click.echo(f"           {res.message}")
        if res.diff:
            click.echo("\n".join("           " + x for x in res.diff.split("\n")))
        elif res.actual:
            tail = res.actual.rstrip().split("\n")[-15:]
            click.echo("\n".join("           | " + x for x in tail))


@click.command()
@click.option("--update", is_flag=True, help="Rewrite expected output on the pages from what ran.")
@click.option("--no-sandbox", is_flag=True, help="Use the running sandbox; no up/down.")
@click.argument("pages", nargs=-1)
@click.pass_context
def test(ctx: click.Context, update: bool, no_sandbox: bool, pages: tuple[str, ...]) -> None:
    """Execute every shell block against the sandbox (all pages, or PAGEs under docs/)."""
    from opsbook.harness.env import scrubbed_env
    from opsbook.harness.runner import run_page

    project = _project(ctx, required=True)
    loaded, forbidden, facts = load(project, None, list(pages) or None)
    problems = [pr for p in loaded for pr in p.problems]
    if problems:
        raise OpsbookError(problems)
    import opsbook.sandbox as sandbox_module  # up/down and the compose environment

    # --no-sandbox only skips up/down: blocks still need the compose env to reach it.
    sandbox = None if no_sandbox else sandbox_module
    results = report.new_run(project.root)
    started = time.monotonic()
    try:
        if sandbox is not None:
            click.echo("sandbox: up")
            sandbox.up(project, facts)
        extra = sandbox_module.compose_environment(project, facts)
        with tempfile.TemporaryDirectory(prefix="opsbook-run-") as tmp:
            env = scrubbed_env(Path(tmp), extra)
            for p in loaded:
                if not p.steps:
                    continue
                click.echo(p.page)
                results.blocks += run_page(p.page, p.steps, Path(tmp), env, forbidden, _progress)
    finally:
        path = report.write(results, project.state_dir)
        if sandbox is not None:
            click.echo("sandbox: down")
            sandbox.down(project, facts)
    counts = results.counts()
    click.echo(
        f"\n{', '.join(f'{v} {k}' for k, v in sorted(counts.items()))} "
        f"in {time.monotonic() - started:.1f}s; results in {path}"
    )
    if update:
        from opsbook.harness.update import update_page

        for p in loaded:
            for msg in update_page(p, results.for_page(p.page), project.docs_dir / p.page):
                click.echo(msg)
    if any(b.status in ("failed", "refused", "blocked") for b in results.blocks):
        sys.exit(1)
