"""Bring the sandbox up, report its health, take it down. The CLI and tests call these."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from opsbook.errors import OpsbookError
from opsbook.facts import Facts
from opsbook.project import Project
from opsbook.sandbox import docker
from opsbook.sandbox.env import HOST, compose_environment, stage_sandbox
from opsbook.sandbox.wheels import ensure_wheelhouse

Progress = Callable[[str], None]

BUILD_TIMEOUT = 1800  # a first build from nothing apt-installs four images
UP_TIMEOUT = 180
DOWN_TIMEOUT = 120
QUERY_TIMEOUT = 30
LOG_LINES = 30


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # running, exited, ..., or "missing" when there is no container
    health: str  # healthy, unhealthy, starting, or "" when there is no healthcheck
    container: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.health in ("healthy", "")

    def __str__(self) -> str:
        return f"{self.name:<14} {self.state:<10} {self.health or '-'}"


def status(project: Project, facts: Facts) -> list[ServiceStatus]:
    """One entry per service in the facts, in their order, containers or not."""
    docker.require_docker()
    done = docker.run(
        ["docker", "compose", "ps", "--all", "--format", "json"],
        compose_environment(project, facts),
        timeout=QUERY_TIMEOUT,
    )
    found: dict[str, ServiceStatus] = {}
    for row in parse_ps_json(done.stdout):
        found[row["Service"]] = ServiceStatus(
            name=row["Service"],
            state=row.get("State", ""),
            health=row.get("Health", ""),
            container=row.get("Name", ""),
        )
    return [found.get(s.name, ServiceStatus(s.name, "missing", "")) for s in facts.services]


def parse_ps_json(text: str) -> list[dict]:
    """`compose ps --format json` prints one array (older) or one object per line (newer)."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def check_ports(project: Project, facts: Facts) -> None:
    """Name the port and the service when something else already listens there."""
    ours = {s.name for s in status(project, facts) if s.state == "running"}
    problems = busy_ports(facts, skip=ours)
    if problems:
        raise OpsbookError(problems)


def busy_ports(facts: Facts, skip: Collection[str] = ()) -> list[str]:
    """One message per service (not in `skip`) whose host port cannot be bound."""
    problems = []
    for service in facts.services:
        if service.name in skip:
            continue  # our own container holds it; `up` will keep it
        for port in service.host_ports:  # one per replica for a service that scales
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((HOST, port))
                except OSError:
                    problems.append(
                        f"port {port} for service {service.name} is already in use on "
                        f"{HOST}; free it or change `port` for {service.name} in "
                        "facts/services.yml"
                    )
    return problems


def build_images(
    project: Project, facts: Facts, progress: Progress = print, *, no_cache: bool = False
) -> None:
    """Build what is stale: every service image, plus the other app releases (cheap:
    they share every layer but the last), so deploy and rollback drills start at once."""
    ensure_wheelhouse(project.sandbox_dir / "app", progress)
    stage_sandbox(project)  # the wheels are part of the build context
    env = compose_environment(project, facts)
    _ensure_base_image(project, env, progress)
    log_path = project.state_dir / "sandbox-build.log"
    project.state_dir.mkdir(exist_ok=True)
    versions = facts.deployment.versions
    progress(f"building images (log: {log_path.relative_to(project.root)})")
    with log_path.open("w") as log:
        for version, extra in (
            (versions.current, ["--no-cache"] if no_cache else []),
            (versions.previous, ["api", "worker"]),
            (versions.broken, ["api", "worker"]),
        ):
            try:
                done = subprocess.run(
                    ["docker", "compose", "build", *extra],
                    env=docker.engine_env({**env, "API_VERSION": version}),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=BUILD_TIMEOUT,
                    start_new_session=True,  # Ctrl-C reaches only us (see docker.run)
                )
            except subprocess.TimeoutExpired:
                raise OpsbookError(
                    f"image build took over {BUILD_TIMEOUT} s; see {log_path}"
                ) from None
            if done.returncode != 0:
                log.flush()
                tail = log_path.read_text().strip().splitlines()[-LOG_LINES:]
                raise OpsbookError([f"image build failed ({version}); see {log_path}", *tail])


def _ensure_base_image(project: Project, env: dict[str, str], progress: Progress) -> None:
    """The Dockerfiles start FROM debian:bookworm-slim; scripts/base-image pulls or makes it."""
    probe = docker.run(
        ["docker", "image", "inspect", "debian:bookworm-slim"],
        env,
        timeout=QUERY_TIMEOUT,
        check=False,
    )
    if probe.returncode == 0:
        return
    script = project.root / "scripts" / "base-image"
    progress("base image debian:bookworm-slim missing; running scripts/base-image")
    done = docker.run([str(script)], env, timeout=600, check=False, capture=False)
    if done.returncode != 0:
        raise OpsbookError(
            "no debian:bookworm-slim image and scripts/base-image could not make it; "
            f"run {docker.BOOTSTRAP}"
        )


def up(project: Project, facts: Facts, *, build: bool = True, progress: Progress = print) -> None:
    """Start every service and wait until all are healthy, or fail naming the sick ones.

    Interrupted (Ctrl-C) or failed part-way, it takes everything down again, so nothing
    is left running behind an error.
    """
    docker.require_docker()
    check_ports(project, facts)
    env = compose_environment(project, facts)
    finished = False
    try:
        if build:
            build_images(project, facts, progress)  # stages the sandbox's files too
        else:
            stage_sandbox(project)
        progress("starting services, waiting for their healthchecks")
        start = time.monotonic()
        done = docker.run(
            ["docker", "compose", "up", "--detach", "--wait", "--remove-orphans",
             "--no-build", "--pull", "never"],
            env,
            timeout=UP_TIMEOUT,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise OpsbookError(_unhealthy_report(project, facts, done.stderr))
        progress(f"all {len(facts.services)} services healthy in {time.monotonic() - start:.1f} s")
        finished = True
    except KeyboardInterrupt:
        progress("interrupted")
        raise
    finally:
        if not finished:
            progress("taking the sandbox down again")
            with docker.uninterruptible():
                _down(env)


def _unhealthy_report(project: Project, facts: Facts, stderr: str) -> list[str]:
    """One line per sick service, each followed by its last log lines."""
    env = compose_environment(project, facts)
    sick = [s for s in status(project, facts) if not s.ok]
    if not sick:
        return ["`docker compose up` failed:", *stderr.strip().splitlines()[-LOG_LINES:]]
    lines: list[str] = []
    for service in sick:
        lines.append(
            f"service {service.name} did not become healthy "
            f"(state {service.state}, health {service.health or 'none'}); "
            f"its last {LOG_LINES} log lines:"
        )
        logs = docker.run(
            ["docker", "compose", "logs", "--no-color", "--tail", str(LOG_LINES), service.name],
            env,
            timeout=QUERY_TIMEOUT,
            check=False,
        )
        lines += [f"  {line}" for line in (logs.stdout + logs.stderr).strip().splitlines()]
    return lines


def _down(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # docker.run starts its own session, so a Ctrl-C cannot interrupt the cleanup itself
    return docker.run(
        # every profile: a canary left running (api-next) goes too
        ["docker", "compose", "--profile", "*", "down", "--volumes", "--remove-orphans",
         "--timeout", "5"],  # fmt: skip
        env,
        timeout=DOWN_TIMEOUT,
        check=False,
    )


def down(project: Project, facts: Facts) -> None:
    """Remove every container, network and volume of the sandbox's compose project."""
    label = f"com.docker.compose.project={facts.platform.compose_project}"
    may_be_left = (
        f"the sandbox's containers, volumes and networks (label {label}) may be left; "
        "when the engine is back, remove them with `opsbook sandbox down`"
    )
    try:
        docker.require_docker()
    except OpsbookError as exc:
        raise OpsbookError([*exc.problems, may_be_left]) from None
    env = compose_environment(project, facts)
    with docker.uninterruptible():
        done = _down(env)
    if done.returncode != 0:
        raise OpsbookError(
            ["`docker compose down` failed:", *done.stderr.strip().splitlines(), may_be_left]
        )
    left = leftovers(facts)
    if left:
        raise OpsbookError([f"still present after down: {item}" for item in left])


def replica_addresses(ps_json: str, container_port: int) -> list[str]:
    """`127.0.0.1:PORT` of every running replica that publishes `container_port`, from
    `docker compose ps --format json SERVICE`. Not `docker compose port`: it asks for
    replica #1, and a rollout renumbers the replicas (sandbox/tools/rollout.py)."""
    rows = sorted(parse_ps_json(ps_json), key=lambda row: row.get("Name", ""))
    return [
        f"{pub['URL']}:{pub['PublishedPort']}"
        for row in rows
        if row.get("State") == "running"
        for pub in row.get("Publishers") or []
        if pub.get("TargetPort") == container_port and pub.get("PublishedPort")
    ]


def published(project: Project, facts: Facts, service: str) -> str | None:
    """`127.0.0.1:PORT` a running replica of a service really answers on (compose picks
    it from the service's port range when it scales), or None if none is running."""
    spec = facts.service(service)
    done = docker.run(
        ["docker", "compose", "ps", "--format", "json", service],
        compose_environment(project, facts),
        timeout=QUERY_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        return None
    return next(iter(replica_addresses(done.stdout, spec.container_port)), None)


def leftovers(facts: Facts) -> list[str]:
    """Containers, volumes and networks still labelled with the sandbox's compose project."""
    label = f"label=com.docker.compose.project={facts.platform.compose_project}"
    found = []
    for kind, args in (
        ("container", ["docker", "ps", "-a", "--filter", label, "--format", "{{.Names}}"]),
        ("volume", ["docker", "volume", "ls", "--filter", label, "--format", "{{.Name}}"]),
        ("network", ["docker", "network", "ls", "--filter", label, "--format", "{{.Name}}"]),
    ):
        out = docker.run(args, {}, timeout=QUERY_TIMEOUT).stdout
        found += [f"{kind} {name}" for name in out.split()]
    return found


def logs(
    project: Project,
    facts: Facts,
    service: str | None = None,
    *,
    tail: int | None = None,
    follow: bool = False,
) -> int:
    """Stream `docker compose logs` to our stdout; returns its exit status."""
    docker.require_docker()
    args = ["docker", "compose", "logs", "--no-color"]
    if tail is not None:
        args += ["--tail", str(tail)]
    if follow:
        args.append("--follow")
    if service:
        args.append(service)
    try:
        return subprocess.call(args, env=docker.engine_env(compose_environment(project, facts)))
    except KeyboardInterrupt:
        return 130
