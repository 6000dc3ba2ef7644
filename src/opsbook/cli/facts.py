"""`opsbook facts check | show [KEY]`."""

from __future__ import annotations

import click
import yaml

from opsbook.cli.context import AppContext, pass_app
from opsbook.errors import OpsbookError
from opsbook.facts import fact_files


@click.group()
def facts() -> None:
    """Validate and inspect the facts (facts/*.yml)."""


@facts.command()
@pass_app
def check(app: AppContext) -> None:
    """Validate every facts file; print one `file:line: key: problem` line per problem."""
    model = app.facts
    files = len(fact_files(app.project.facts_dir))
    click.echo(
        f"facts OK: {files} files, {len(model.services)} services, "
        f"{len(model.thresholds)} thresholds, {len(model.environments)} environments"
    )


@facts.command()
@click.argument("key", required=False)
@pass_app
def show(app: AppContext, key: str | None) -> None:
    """Print the merged facts as YAML, or only KEY (dotted: thresholds.error_rate.warning,
    services.0.port)."""
    value = app.facts.model_dump(mode="json", by_alias=True)
    for part in key.split(".") if key else []:
        try:
            value = value[int(part)] if isinstance(value, list) else value[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise OpsbookError(
                f"facts show {key}: no key {part!r} here; `opsbook facts show` lists them all"
            ) from None
    if isinstance(value, dict | list):
        click.echo(yaml.safe_dump(value, sort_keys=False, allow_unicode=True).rstrip())
    else:
        click.echo(value)
