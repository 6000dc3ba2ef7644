"""Containers a page's blocks started outside the sandbox's compose project.

`docker run -d ...` in a block starts something no process tree holds: the engine does.
We note the engine's containers when a page starts and, when it ends, remove the new ones
that do not belong to the sandbox's compose project (those are the sandbox's own, which
the cleanup of the sandbox handles). Docker is reached exactly as the blocks reach it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping

TIMEOUT = 30
PROJECT_LABEL = "com.docker.compose.project"


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


def remove_new(env: Mapping[str, str], before: set[str] | None) -> list[str]:
    """Remove containers created since `before` outside the sandbox's project; their ids."""
    if before is None:
        return []
    done = _docker(
        env, "ps", "-a", "--no-trunc", "--format", f'{{{{.ID}}}} {{{{.Label "{PROJECT_LABEL}"}}}}'
    )
    if done is None or done.returncode != 0:
        return []
    sandbox = env.get("COMPOSE_PROJECT_NAME", "")
    new = []
    for line in done.stdout.splitlines():
        cid, _, project = line.partition(" ")
        if cid and cid not in before and (not sandbox or project.strip() != sandbox):
            new.append(cid)
    if new:
        _docker(env, "rm", "-f", "-v", *new)
    return new
