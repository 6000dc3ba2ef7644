"""`opsbook sandbox up | down | status | logs | env`."""

from __future__ import annotations

import shlex
import sys

import click

from opsbook.cli_context import project_and_facts
from opsbook.sandbox import env as sandbox_env
from opsbook.sandbox import lifecycle


@click.group()
def sandbox() -> None:
    """Run the reference platform under Docker Compose (ports from facts/services.yml)."""


@sandbox.command()
@click.option("--no-build", is_flag=True, help="Use the images as they are; build nothing.")
@click.pass_context
def up(ctx: click.Context, no_build: bool) -> None:
    """Build what is stale, start every service, wait until all are healthy."""
    project, facts = project_and_facts(ctx)
    lifecycle.up(project, facts, build=not no_build, progress=click.echo)
    for name, url in sandbox_env.base_urls(facts).items():
        spec = facts.service(name)
        note = f"  (replicas use ports up to {spec.last_port})" if spec.max_replicas > 1 else ""
        click.echo(f"  {name:<14} {url}{note}")
    click.echo('Plain `docker compose` reaches it after: eval "$(opsbook sandbox env)"')


@sandbox.command()
@click.pass_context
def down(ctx: click.Context) -> None:
    """Remove every container, network and volume of the sandbox."""
    project, facts = project_and_facts(ctx)
    lifecycle.down(project, facts)
    click.echo(f"sandbox {facts.platform.compose_project} removed")


@sandbox.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Each service's state and health; exit status 1 if any is not healthy."""
    project, facts = project_and_facts(ctx)
    services = lifecycle.status(project, facts)
    for service in services:
        click.echo(str(service))
    if not all(s.ok for s in services):
        sys.exit(1)


@sandbox.command()
@click.argument("service", required=False)
@click.option("-n", "--tail", type=int, default=None, help="Only the last N lines.")
@click.option("-f", "--follow", is_flag=True, help="Keep following new lines.")
@click.pass_context
def logs(ctx: click.Context, service: str | None, tail: int | None, follow: bool) -> None:
    """Show the logs of one service, or of all."""
    project, facts = project_and_facts(ctx)
    names = [s.name for s in facts.services]
    if service and service not in names:
        raise click.BadParameter(f"{service!r} is not one of {', '.join(names)}")
    sys.exit(lifecycle.logs(project, facts, service, tail=tail, follow=follow))


@sandbox.command("env")
@click.pass_context
def env_command(ctx: click.Context) -> None:
    """Print `export` lines so plain `docker compose` reaches the sandbox:

    eval "$(opsbook sandbox env)"
    """
    project, facts = project_and_facts(ctx)
    for key, value in sandbox_env.compose_environment(project, facts).items():
        click.echo(f"export {key}={shlex.quote(value)}")
