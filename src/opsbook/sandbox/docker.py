"""Running docker and docker compose: timeouts, clear errors, and Ctrl-C-safe cleanup.

Every call goes to the engine `opsbook.engine.current_engine()` names (the runner's
rootless engine, or the local one), never to a DOCKER_HOST or context the caller's shell
happens to point at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager

from opsbook.engine import current_engine, engine_not_running
from opsbook.errors import OpsbookError
from opsbook.signals import deferred_signals

BOOTSTRAP = "sudo scripts/bootstrap"


def docker_missing(reason: str) -> OpsbookError:
    return engine_not_running(current_engine(), reason)


def engine_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment, pinned to the sandbox's engine, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_CONTEXT"}
    env["DOCKER_HOST"] = current_engine().docker_host
    env.update(extra or {})
    return env


def require_docker(timeout: float = 20) -> None:
    """Fail in one line naming the bootstrap unless the engine and Compose v2 answer."""
    if shutil.which("docker") is None:
        raise docker_missing("no `docker` command")
    for args, what in (
        (["docker", "info", "--format", "{{.ServerVersion}}"], "engine"),
        (["docker", "compose", "version"], "Compose v2"),
    ):
        try:
            done = subprocess.run(
                args, capture_output=True, text=True, timeout=timeout, env=engine_env()
            )
        except subprocess.TimeoutExpired:
            raise docker_missing(f"the {what} did not answer within {timeout:.0f} s") from None
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise docker_missing(f"the {what} failed: {detail}")


def run(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float,
    check: bool = True,
    capture: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run one command under `env` (added to ours). Raises OpsbookError on timeout/failure."""
    try:
        done = subprocess.run(
            list(args),
            env=engine_env(env),
            capture_output=capture,
            text=True,
            timeout=timeout,
            # Ctrl-C reaches only us; we then stop the child and clean up in order.
            start_new_session=True,
        )
    except FileNotFoundError:
        raise docker_missing(f"no `{args[0]}` command") from None
    except subprocess.TimeoutExpired:
        raise OpsbookError(f"`{' '.join(args)}` did not finish within {timeout:.0f} s") from None
    if check and done.returncode != 0:
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-5:]
        raise OpsbookError([f"`{' '.join(args)}` failed (exit {done.returncode})", *tail])
    return done


def uninterruptible() -> AbstractContextManager[None]:
    """Hold Ctrl-C and SIGTERM while cleaning up, so a second one cannot leave things
    half-removed; the run is already stopping, so they are not delivered again."""
    return deferred_signals(redeliver=False)
