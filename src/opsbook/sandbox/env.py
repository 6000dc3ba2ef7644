"""What the facts say about the sandbox: its compose environment and its endpoints.

`compose_environment` is the contract between the facts, `sandbox/compose.yaml` and the
docs: compose takes every host port from these variables, and the doc harness runs each
documented `docker compose ...` command under them, so both read the same facts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

from opsbook.engine import current_engine, runner_reachable_tmp
from opsbook.errors import OpsbookError
from opsbook.facts import Facts, Service
from opsbook.project import Project

HOST = "127.0.0.1"


def service_variable(service_name: str, what: str) -> str:
    """(`api`, `PORT`) -> `API_PORT`: a compose.yaml variable about one service."""
    return f"{service_name.upper().replace('-', '_')}_{what}"


def port_variable(service_name: str) -> str:
    """`api` -> `API_PORT`: the variable compose.yaml publishes that service's port from."""
    return service_variable(service_name, "PORT")


def _others_can_read(path: Path) -> bool:
    """Whether a user other than the owner can reach and read `path` (and its parents)."""
    path = path.resolve()
    for folder in (path, *path.parents):
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


def sandbox_dir(project: Project) -> Path:
    """The folder compose reads: the project's sandbox/, or, when the rootless engine's
    user could not read it (a checkout under a private home), a copy `up` makes that it
    can (`stage_sandbox`)."""
    source = project.sandbox_dir.resolve()
    if (
        current_engine().isolation != "rootless"
        or not source.is_dir()
        or _others_can_read(source)
    ):
        return source
    digest = hashlib.sha1(str(source).encode()).hexdigest()[:10]
    return runner_reachable_tmp() / f"opsbook-sandbox-{digest}"


def stage_sandbox(project: Project) -> Path:
    """Make `sandbox_dir(project)` current: copy sandbox/ there if it is a copy."""
    target = sandbox_dir(project)
    if target == project.sandbox_dir.resolve():
        return target
    # /tmp is shared: the copy must be ours alone, or the runner user could hand root's
    # compose a file of its own (a build context of /etc, say)
    try:
        target.mkdir(mode=0o755)
    except FileExistsError:
        info = target.lstat()
        if (
            stat.S_ISLNK(info.st_mode)
            or not stat.S_ISDIR(info.st_mode)
            or info.st_uid != os.geteuid()
            or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        ):
            raise OpsbookError(
                f"{target}: exists and is not a folder only we can write; remove it, then "
                "bring the sandbox up again"
            ) from None
    # Files are overwritten in place (same inodes), so a running sandbox's bind mounts
    # see the new content instead of a deleted file.
    shutil.copytree(project.sandbox_dir, target, symlinks=False, dirs_exist_ok=True)
    for path in (target, *target.rglob("*")):  # readable by all; executables stay so
        executable = path.is_dir() or path.stat().st_mode & 0o111
        path.chmod(0o755 if executable else 0o644)
    return target


def compose_file(project: Project) -> str:
    folder = sandbox_dir(project)
    if not (folder / "compose.yaml").is_file() and project.sandbox_dir.is_dir():
        folder = stage_sandbox(project)  # a staged copy not made yet (`up` renews it)
    return str(folder / "compose.yaml")


def compose_environment(project: Project, facts: Facts) -> dict[str, str]:
    """The environment under which a plain `docker compose ...` reaches the sandbox."""
    env = {
        "DOCKER_HOST": current_engine().docker_host,
        "COMPOSE_FILE": compose_file(project),
        "COMPOSE_PROJECT_NAME": facts.platform.compose_project,
        "API_VERSION": facts.deployment.versions.current,
        "DB_NAME": facts.platform.database.name,
        "DB_USER": facts.platform.database.user,
        "DB_PASSWORD": facts.platform.sandbox_credentials.database_password,
        "REDIS_PASSWORD": facts.platform.sandbox_credentials.redis_password,
    }
    for service in facts.services:
        env[port_variable(service.name)] = str(service.port)
        env[service_variable(service.name, "PORT_LAST")] = str(service.last_port)
        env[service_variable(service.name, "REPLICAS")] = str(service.replicas)
    return env


def endpoint_url(service: Service, facts: Facts) -> str:
    """How a reader reaches a service from the host (always 127.0.0.1)."""
    if service.name == "postgres":
        db = facts.platform.database
        url = f"postgresql://{db.user}@{HOST}:{service.port}/{db.name}"
    elif service.name == "redis":
        url = f"redis://{HOST}:{service.port}"
    else:
        url = f"http://{HOST}:{service.port}"
    return url


def base_urls(facts: Facts) -> dict[str, str]:
    """Service name -> its endpoint URL, for tests and the `up` summary."""
    return {s.name: endpoint_url(s, facts) for s in facts.services}
