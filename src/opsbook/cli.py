"""The `opsbook` command. Each group lives beside the code it drives."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from opsbook import __version__
from opsbook.errors import OpsbookError


class OpsbookGroup(click.Group):
    """Turns OpsbookError into one line per problem on stderr and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OpsbookError as exc:
            for line in exc.problems:
                click.echo(f"error: {line}", err=True)
            sys.exit(1)


@click.group(cls=OpsbookGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="opsbook")
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project directory (default: the nearest one above the current directory).",
)
@click.pass_context
def main(ctx: click.Context, project: Path | None) -> None:
    """Operations runbooks that prove themselves.

    Facts (facts/*.yml) are rendered into the runbook pages (docs/), the pages are built
    into a site with MkDocs, and every shell block on them is executed against a sandbox.
    """
    ctx.obj = project


def _register() -> None:
    from opsbook.alerts.cli import alerts
    from opsbook.facts_cli import facts
    from opsbook.harness.cli import snippets, test
    from opsbook.links import links
    from opsbook.render_cli import render
    from opsbook.sandbox.cli import sandbox

    for command in (facts, render, links, sandbox, alerts, snippets, test):
        main.add_command(command)


_register()
