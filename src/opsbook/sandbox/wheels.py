"""Fill sandbox/app/wheelhouse so image builds never need the package index.

Containers on some machines cannot reach PyPI (TLS interception the host trusts and
the image does not); the host can. So the host downloads wheels for the image's
interpreter and platform, and the Dockerfile installs from them offline. A stamp keyed
on requirements.txt and the target skips the download when nothing changed.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from opsbook.errors import OpsbookError

# Debian bookworm's python3, the app image's interpreter. The patch level matters:
# environment markers (redis needs async-timeout below 3.11.3) are evaluated against it.
IMAGE_PYTHON = "3.11.2"
STAMP = ".requirements.sha256"


def _platforms() -> list[str]:
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine(), platform.machine())
    return [f"manylinux_2_{minor}_{arch}" for minor in (17, 28, 34, 36)] + [f"manylinux2014_{arch}"]


def ensure_wheelhouse(app_dir: Path, progress: Callable[[str], None]) -> None:
    requirements = app_dir / "requirements.txt"
    wheelhouse = app_dir / "wheelhouse"
    target = f"{IMAGE_PYTHON} {_platforms()}\n".encode()  # a new target needs new wheels
    digest = hashlib.sha256(target + requirements.read_bytes()).hexdigest()
    stamp = wheelhouse / STAMP
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return
    progress("downloading Python wheels for the app image")
    wheelhouse.mkdir(exist_ok=True)
    for old in wheelhouse.glob("*.whl"):
        old.unlink()
    nodot = "".join(IMAGE_PYTHON.split(".")[:2])
    args = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--python-version", IMAGE_PYTHON, "--implementation", "cp",
        "--abi", f"cp{nodot}", *[f"--platform={p}" for p in _platforms()],
        "-d", str(wheelhouse), "-r", str(requirements),
    ]  # fmt: skip
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise OpsbookError("pip download of the app's wheels took over 600 s") from None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise OpsbookError([f"could not download the app's wheels into {wheelhouse}", *tail])
    stamp.write_text(digest + "\n")
