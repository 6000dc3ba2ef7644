"""`opsbook blocks list` (and its old name, the hidden `opsbook snippets list`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from opsbook.cli.context import AppContext, pass_app
from opsbook.errors import OpsbookError
from opsbook.harness.inventory import block_rows, page_counts, summary


@click.group()
def blocks() -> None:
    """List and classify the shell blocks on the site."""


@blocks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Blocks, counts and problems as JSON.")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@pass_app
def list_(app: AppContext, as_json: bool, paths: tuple[Path, ...]) -> None:
    """Every fenced shell block with its classification and target, then the counts.

    Without PATHs: the rendered site pages (facts applied, snippets included). With PATHs:
    those Markdown files, or every Markdown file under those folders, as they are, read
    with the nearest mkdocs.yml's extensions. A block with any problem counts as
    unclassified; every problem is printed as `page:line: message` and the exit status is
    1. Pages not adopted yet (the plugin's `adopt` option) are listed and their problems
    shown, but they do not fail the listing.
    """
    from opsbook.cache import gc_paused
    from opsbook.harness.reading.plan import plan_pages

    project = app.project if not paths else app.project_if_any()
    # a listing builds a row per block (17,000 on 1,000 pages) and ends: the collector
    # would only walk them again and again (about 0.3 s there; benchmarks/scale.py)
    with gc_paused():
        plan = plan_pages(project, list(paths) or None)
        rows = block_rows(plan.pages)
        counts = summary(plan.pages)
    problems = [str(p) for p in plan.problems]
    later = [str(p) for p in plan.not_adopted_problems]
    for note in plan.notes:
        click.echo(f"note: {note}", err=True)
    if as_json:
        click.echo(json.dumps({"blocks": rows, "counts": counts, "problems": problems,
                               "not_adopted_problems": later,
                               "pages": page_counts(plan.pages)}, indent=1))
    else:
        out: list[str] = []  # echoed at once: one write, not one per block
        for r in rows:
            first = r["body"].strip().split("\n", 1)[0]
            out.append(
                f"{r['id']:<32} {r['lang']:<8} {r['classification']:<24} "
                f"{r['target']:<10} {first[:60]}"
            )
        out.append("")
        total = counts.get("shell blocks", 0)
        for k, v in counts.items():
            out.append(f"{k:<24} {v}")
        if total:
            run = counts.get("run", 0)
            classified = total - counts.get("unclassified", 0)
            out.append(f"classified               {100 * classified / total:.1f} %")
            out.append(f"executed                 {100 * run / total:.1f} %")
            out.append(
                f"steps executed           {100 * counts['steps run'] / counts['steps']:.1f} % "
                "(a step's environment variants count once)"
            )
        if len(plan.pages) > 1:
            out.append("")
            out.append(f"{'page':<40} {'shell':>5} {'run':>5} {'skip':>5} {'uncl.':>5} "
                       f"{'text':>5}  adopted")
            for pc in page_counts(plan.pages):
                c = pc["counts"]
                out.append(f"{pc['page'][-40:]:<40} {c.get('shell blocks', 0):>5} "
                           f"{c.get('run', 0):>5} {c.get('skipped', 0):>5} "
                           f"{c.get('unclassified', 0):>5} {c.get('rendered as text', 0):>5}  "
                           f"{'yes' if pc['adopted'] else 'no'}")
        click.echo("\n".join(out))
    for line in later:
        click.echo(f"not adopted: {line}", err=True)
    if problems:
        raise OpsbookError(problems)


@click.group(hidden=True)
def snippets() -> None:
    """Old name of `opsbook blocks` (kept for one release)."""


snippets.add_command(list_, "list")
