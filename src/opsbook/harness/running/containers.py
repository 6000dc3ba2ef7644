"""Containers a page's blocks started outside the sandbox's compose project.

`docker run -d ...` in a block starts something no process tree holds: the engine does.
We note the engine's containers when a page starts and, when it ends, remove the new ones
that compose did not make from the sandbox's files. Spared: this sandbox's project (the
sandbox's cleanup handles it) and every project whose compose working directory is the
sandbox's, which is every other instance of it (`opsbook test -j N`): their pages
recreate containers while ours runs, and removing those once broke both runs (a canary
found no replica, a restart found its containers "marked for removal"). Docker is reached
exactly as the blocks reach it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping

TIMEOUT = 30
PROJECT_LABEL = "com.docker.compose.project"
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"


def _docker(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str] | None:
    if shutil.which("docker", path=env.get("PATH")) is None or "DOCKER_HOST" not in env:
        return None
    try:
        return subprocess.run(
            ["docker", *args], env=dict(env), capture_output=True, text=True, timeout=TIMEOUT,
            start_new_session=True,  # a Ctrl-C during cleanup reaches us, not docker
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def snapshot(env: Mapping[str, str]) -> set[str] | None:
    """Ids of every container on the engine now; None when the engine does not answer."""
    done = _docker(env, "ps", "-aq", "--no-trunc")
    if done is None or done.returncode != 0:
        return None
    return set(done.stdout.split())


def _sandbox_dir(env: Mapping[str, str]) -> str:
    """The directory compose runs the sandbox from: its first compose file's."""
    first = env.get("COMPOSE_FILE", "").split(env.get("COMPOSE_PATH_SEPARATOR", os.pathsep))[0]
    return os.path.dirname(os.path.abspath(first)) if first else ""


def remove_new(env: Mapping[str, str], before: set[str] | None) -> list[str]:
    """Remove containers created since `before` that no sandbox instance owns; their ids."""
    if before is None:
        return []
    labels = f'{{{{.Label "{PROJECT_LABEL}"}}}}\t{{{{.Label "{WORKING_DIR_LABEL}"}}}}'
    done = _docker(env, "ps", "-a", "--no-trunc", "--format", f"{{{{.ID}}}}\t{labels}")
    if done is None or done.returncode != 0:
        return []
    sandbox = env.get("COMPOSE_PROJECT_NAME", "")
    sandbox_dir = _sandbox_dir(env)
    new = []
    for line in done.stdout.splitlines():
        cid, project, workdir = (line.split("\t") + ["", ""])[:3]
        if not cid or cid in before:
            continue
        ours = bool(sandbox) and project == sandbox
        sibling = bool(sandbox_dir) and bool(project) and workdir == sandbox_dir
        if not (ours or sibling):
            new.append(cid)
    if new:
        _docker(env, "rm", "-f", "-v", *new)
    return new
