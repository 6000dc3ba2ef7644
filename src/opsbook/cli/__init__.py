"""The `opsbook` command: all click code lives in this package.

One module per command group; each command parses its options and calls plain library
functions (`opsbook.facts`, `opsbook.render`, `opsbook.harness.verify`, `opsbook.sandbox`,
`opsbook.alerts`, `opsbook.links`), which know nothing of click. Groups are imported only
when invoked, so `opsbook --help` stays quick.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from opsbook import __version__
from opsbook.cli.context import AppContext
from opsbook.errors import OpsbookError

# command name -> (module, attribute, one-line help shown by `opsbook --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("opsbook.cli.init", "init", "Add opsbook to an existing MkDocs project."),
    "facts": ("opsbook.cli.facts", "facts", "Validate and inspect the facts (facts/*.yml)."),
    "render": ("opsbook.cli.render", "render", "Render every page template with the facts."),
    "blocks": ("opsbook.cli.blocks", "blocks", "List and classify the shell blocks on the site."),
    "test": ("opsbook.cli.test", "test", "Run every shell block against the sandbox."),
    "results": ("opsbook.cli.results", "results", "Merge and import results made elsewhere."),
    "scenarios": ("opsbook.cli.scenarios", "scenarios", "Runbooks proven against their fault."),
    "sandbox": ("opsbook.cli.sandbox", "sandbox", "Run the reference platform (Docker Compose)."),
    "alerts": ("opsbook.cli.alerts", "alerts", "Prometheus alert rules generated from the facts."),
    "k8s": ("opsbook.cli.k8s", "k8s", "Kubernetes manifests generated from the facts."),
    "links": ("opsbook.cli.links", "links", "Check a built site's links and anchors (lychee)."),
    # hidden alias for one release: `opsbook snippets list` is now `opsbook blocks list`
    "snippets": ("opsbook.cli.blocks", "snippets", ""),
}


class OpsbookGroup(click.Group):
    """Loads command groups lazily; turns OpsbookError into one line per problem, exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (_, _, short) in COMMANDS.items() if short]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, short = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        if short:
            command.short_help = short
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # from the table above, so `opsbook --help` imports no command module
        rows = [(name, short) for name, (_, _, short) in COMMANDS.items() if short]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
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
    help="Project directory. Default: $OPSBOOK_PROJECT, else the nearest folder with "
    "mkdocs.yml and facts/ at or above the current directory.",
)
@click.pass_context
def main(ctx: click.Context, project: Path | None) -> None:
    """Operations runbooks that prove themselves.

    Facts (facts/*.yml) are rendered into the runbook pages (docs/), the pages are built
    into a site with MkDocs, and every shell block on them is executed against a sandbox.
    """
    ctx.obj = AppContext(project_option=project)
