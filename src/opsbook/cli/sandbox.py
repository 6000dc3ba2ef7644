"""`opsbook sandbox up | down | status | logs | env`; `up` and `down` also on kind."""

from __future__ import annotations

import shlex
import sys

import click

from opsbook.cli.context import AppContext, pass_app
from opsbook.project import display_path
from opsbook.sandbox import env as sandbox_env
from opsbook.sandbox import lifecycle


@click.group()
def sandbox() -> None:
    """Run the reference platform under Docker Compose (ports from facts/services.yml)."""


BACKEND = click.option(
    "--backend",
    type=click.Choice(["compose", "kind"]),
    default="compose",
    show_default=True,
    help="Docker Compose, or a kind cluster running deploy/k8s/overlays/kind.",
)


@sandbox.command()
@click.option("--no-build", is_flag=True, help="Use the images as they are; build nothing.")
@BACKEND
@pass_app
def up(app: AppContext, no_build: bool, backend: str) -> None:
    """Build what is stale, start every service, wait until all are healthy."""
    if backend == "kind":
        from opsbook.sandbox import kind

        kind.require_tools()  # before the facts or the engine: a missing tool fails at once
        cluster = kind.up(app.project, app.facts, build=not no_build, progress=click.echo)
        click.echo(f"kind cluster {cluster.name} ready; kubectl reaches it after: "
                   f"export KUBECONFIG={display_path(cluster.kubeconfig)}")
        return
    project, facts = app.project, app.facts
    lifecycle.up(project, facts, build=not no_build, progress=click.echo)
    for name, url in sandbox_env.base_urls(facts).items():
        spec = facts.service(name)
        note = ""
        if spec.max_replicas > 1:
            # compose picks each replica's port from the range: show the one that answers
            if where := lifecycle.published(project, facts, name):
                url = f"http://{where}"
            note = f"  (replicas use ports {spec.port}-{spec.last_port})"
        click.echo(f"  {name:<14} {url}{note}")
    click.echo('Plain `docker compose` reaches it after: eval "$(opsbook sandbox env)"')


@sandbox.command()
@BACKEND
@pass_app
def down(app: AppContext, backend: str) -> None:
    """Remove every container, network and volume of the sandbox."""
    if backend == "kind":
        from opsbook.sandbox import kind

        kind.require_tools()
        cluster = kind.down(app.project, app.facts)
        click.echo(f"kind cluster {cluster.name} deleted")
        return
    project, facts = app.project, app.facts
    lifecycle.down(project, facts)
    click.echo(f"sandbox {facts.platform.compose_project} removed")


@sandbox.command()
@pass_app
def status(app: AppContext) -> None:
    """Each service's state and health; exit status 1 if any is not healthy."""
    project, facts = app.project, app.facts
    services = lifecycle.status(project, facts)
    for service in services:
        click.echo(str(service))
    if not all(s.ok for s in services):
        sys.exit(1)


@sandbox.command()
@click.argument("service", required=False)
@click.option("-n", "--tail", type=int, default=None, help="Only the last N lines.")
@click.option("-f", "--follow", is_flag=True, help="Keep following new lines.")
@pass_app
def logs(app: AppContext, service: str | None, tail: int | None, follow: bool) -> None:
    """Show the logs of one service, or of all."""
    project, facts = app.project, app.facts
    names = [s.name for s in facts.services]
    if service and service not in names:
        raise click.BadParameter(f"{service!r} is not one of {', '.join(names)}")
    sys.exit(lifecycle.logs(project, facts, service, tail=tail, follow=follow))


@sandbox.command("env")
@pass_app
def env_command(app: AppContext) -> None:
    """Print `export` lines so plain `docker compose` reaches the sandbox:

    eval "$(opsbook sandbox env)"
    """
    project, facts = app.project, app.facts
    for key, value in sandbox_env.compose_environment(project, facts).items():
        click.echo(f"export {key}={shlex.quote(value)}")
