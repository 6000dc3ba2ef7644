"""Helpers several test modules share (test modules never import one another)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from opsbook.project import Project
from opsbook.sandbox.docker import engine_env


def replace_in(path: Path, old: str, new: str, count: int = 1) -> None:
    """Edit a file in place, failing loudly if `old` is not there (a stale test)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not found in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def build(project: Project, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of `project` into `site`, as a reader's machine runs it."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=project.root, capture_output=True, text=True, timeout=180, env=env,
    )


def labelled(kind: str, project: str) -> list[str]:
    """Ids of Docker objects (container, volume, network) of a compose project."""
    args = ["docker", kind, "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"]
    if kind == "container":
        args.insert(3, "-a")  # stopped containers count too
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True,
                          env=engine_env())  # the sandbox's engine (rootless or local)
    return done.stdout.split()
