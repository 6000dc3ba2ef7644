"""`opsbook links [SITE]`."""

from __future__ import annotations

from pathlib import Path

import click

from opsbook.errors import OpsbookError
from opsbook.links import check_links


@click.command()
@click.argument("site", type=click.Path(file_okay=False, path_type=Path), default="site")
def links(site: Path) -> None:
    """Check every link and anchor in a built SITE (default: site/) with lychee, offline."""
    result = check_links(site)
    click.echo(result.stdout.rstrip())
    if result.returncode != 0:
        raise OpsbookError(f"{site}: lychee found broken links or anchors (listed above)")
