"""`opsbook render [--out DIR] [--check]`."""

from __future__ import annotations

from pathlib import Path

import click

from opsbook.cli.context import AppContext, pass_app
from opsbook.errors import OpsbookError
from opsbook.render import render_site


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the rendered Markdown here (one file per page) for inspection.",
)
@click.option(
    "--check",
    is_flag=True,
    help="With --out: write nothing, fail if the copy in DIR differs from a fresh render.",
)
@pass_app
def render(app: AppContext, out: Path | None, check: bool) -> None:
    """Render every page template with the facts.

    Without options, renders everything and reports problems (undefined names with page
    and line). Pages are never written into docs/: the site renders them in memory.
    """
    if check and out is None:
        raise OpsbookError("render --check compares against a copy: give it with --out DIR")
    pages = render_site(app.project, app.facts)
    if out is None:
        click.echo(f"rendered {len(pages)} pages OK")
        return
    if check:
        stale = [p for p, text in pages.items() if _read(out / p) != text]
        extra = sorted(
            p.relative_to(out).as_posix() for p in out.rglob("*.md")
            if p.relative_to(out).as_posix() not in pages
        )
        problems = [f"{out / p}: differs from a fresh render; run `opsbook render --out {out}`"
                    for p in stale]
        problems += [f"{out / p}: no such page any more; delete it" for p in extra]
        if problems:
            raise OpsbookError(problems)
        click.echo(f"{len(pages)} rendered pages in {out} are up to date")
        return
    for page, text in pages.items():
        target = out / page
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(pages)} pages to {out}")


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None
