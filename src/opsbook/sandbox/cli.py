"""`opsbook sandbox ...` (placeholder until the sandbox lands)."""

import click


@click.group()
def sandbox() -> None:
    """Run the reference platform under Docker Compose."""
