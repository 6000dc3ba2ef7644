"""What every `opsbook` subcommand needs from the command line: the project and its facts.

Kept apart from `opsbook.cli`, which imports every command group, so the groups can use
it without an import cycle.
"""

from __future__ import annotations

import click

from opsbook.facts import Facts, load_facts
from opsbook.project import Project


def project_from(ctx: click.Context) -> Project:
    """The project `--project` names, else the nearest one above the working directory."""
    return Project.find(ctx.find_root().obj)


def project_and_facts(ctx: click.Context) -> tuple[Project, Facts]:
    project = project_from(ctx)
    return project, load_facts(project.facts_dir)
