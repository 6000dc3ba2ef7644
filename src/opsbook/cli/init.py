"""`opsbook init`: take on an existing MkDocs project, then show what would run."""

from __future__ import annotations

from pathlib import Path

import click

from opsbook.cli.context import AppContext, pass_app


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace starter files that exist already.")
@pass_app
def init(app: AppContext, directory: Path | None, force: bool) -> None:
    """Add opsbook to the MkDocs project in DIRECTORY (default: --project, else here).

    Adds the plugin and pymdownx.superfences to mkdocs.yml, a starter facts/, a sandbox
    compose file (a pointer to the project's own compose file when it has one), a noxfile
    and pytest.ini; then lists what would run. Safe to run again: only what is missing is
    added, and no file is overwritten without --force.
    """
    from opsbook.harness.inventory import summary
    from opsbook.harness.reading.plan import plan_pages
    from opsbook.init import init_project
    from opsbook.project import Project

    root = (directory or app.project_option or Path.cwd()).resolve()
    for change in init_project(root, force):
        click.echo(str(change))
    plan = plan_pages(Project(root))
    counts = summary(plan.pages)
    click.echo("")
    click.echo(f"What would run ({len(plan.pages)} pages; `opsbook blocks list` for each block):")
    for key, value in counts.items():
        click.echo(f"  {key:<22} {value}")
    if not counts:
        click.echo("  no shell blocks yet")
    problems = plan.problems + plan.not_adopted_problems
    if problems:
        click.echo(f"  {'problems':<22} {len(problems)} (`opsbook blocks list` shows them; "
                   "fix them or leave those pages out of the plugin's `adopt` list)")
