"""`opsbook snippets` and `opsbook test` (placeholders until the harness lands)."""

import click


@click.group()
def snippets() -> None:
    """List and classify the shell blocks on the site."""


@click.command()
def test() -> None:
    """Execute every shell block against the sandbox."""
