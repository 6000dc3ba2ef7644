"""Which Docker engine the sandbox runs on, and as whom the docs' blocks run.

Two isolation modes, chosen with OPSBOOK_ISOLATION:

- `rootless` (the default when opsbook runs as root, as CI does): blocks run as the
  unprivileged user `opsbook-runner` (OPSBOOK_RUNNER_USER), and the sandbox runs on that
  user's own rootless Docker engine (`scripts/rootless-engine`). `docker` in a block
  reaches only that engine, which cannot read root's files; the user cannot read other
  processes' environments.
- `none` (the default otherwise, and the opt-out): blocks run as whoever runs opsbook, on
  the local engine (`unix:///var/run/docker.sock`, or OPSBOOK_DOCKER_HOST). On a machine
  where you are root, this lets a page's blocks do anything root can.

The sandbox's lifecycle and the harness both ask `current_engine()`, so the sandbox a
block reaches is the one `opsbook sandbox up` started. Results record the mode, and the
site's badges say which mode verified a block.
"""

from __future__ import annotations

import os
import pwd
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from opsbook.errors import OpsbookError

Isolation = Literal["rootless", "none"]
ISOLATION_VAR = "OPSBOOK_ISOLATION"
LOCAL_DOCKER = "unix:///var/run/docker.sock"
SETUP = "sudo scripts/rootless-engine"


@dataclass(frozen=True)
class Engine:
    isolation: Isolation
    docker_host: str  # what DOCKER_HOST is for the sandbox's commands and for every block
    runner: str | None = None  # rootless: the user blocks run as
    uid: int | None = None
    gid: int | None = None

    @property
    def label(self) -> str:
        """How a badge names the mode that verified a block."""
        if self.isolation == "rootless":
            return f"rootless, as {self.runner}"
        return "unisolated, as root" if os.geteuid() == 0 else "unisolated"


def runner_reachable_tmp() -> Path:
    """A temp folder the runner user can reach into: the usual one, unless a private
    TMPDIR hides it (every folder above must be enterable by others); then /tmp."""
    parent = Path(tempfile.gettempdir()).resolve()
    if all(p.stat().st_mode & stat.S_IXOTH for p in (parent, *parent.parents)):
        return parent
    return Path("/tmp")


def current_engine() -> Engine:
    """The engine and identity for this process, from OPSBOOK_ISOLATION (see above)."""
    default: Isolation = "rootless" if os.geteuid() == 0 else "none"
    mode = os.environ.get(ISOLATION_VAR, "") or default
    if mode == "none":
        return Engine("none", os.environ.get("OPSBOOK_DOCKER_HOST") or LOCAL_DOCKER)
    if mode != "rootless":
        raise OpsbookError(
            f"{ISOLATION_VAR}={mode!r}: use `rootless` (blocks run as an unprivileged user on "
            "its own Docker engine) or `none` (blocks run as you, on your engine)"
        )
    user = os.environ.get("OPSBOOK_RUNNER_USER", "opsbook-runner")
    runtime = os.environ.get("OPSBOOK_RUNNER_RUNTIME_DIR") or f"/tmp/{user}-run"
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise OpsbookError(
            f"isolation is rootless but there is no user {user!r}: set it up with {SETUP}, "
            f"or run unisolated with {ISOLATION_VAR}=none"
        ) from None
    if os.geteuid() != 0:
        raise OpsbookError(
            f"isolation is rootless, which needs root to run blocks as {user!r}; run as root "
            f"or with {ISOLATION_VAR}=none"
        )
    return Engine("rootless", f"unix://{runtime}/docker.sock", user, entry.pw_uid, entry.pw_gid)


def engine_not_running(engine: Engine, detail: str) -> OpsbookError:
    if engine.isolation == "rootless":
        return OpsbookError(
            f"the rootless Docker engine of {engine.runner} is not usable ({detail}); set it "
            f"up with sudo scripts/bootstrap (the engine alone: {SETUP}), or run unisolated "
            f"with {ISOLATION_VAR}=none"
        )
    return OpsbookError(
        f"Docker is not usable ({detail}); install and start it: sudo scripts/bootstrap"
    )
