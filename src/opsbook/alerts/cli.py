"""`opsbook alerts ...` (placeholder until the alert generator lands)."""

import click


@click.group()
def alerts() -> None:
    """Prometheus alert rules generated from the facts."""
