"""The rootless engine that runs the docs' blocks (scripts/rootless-engine) isolates them:
as the user opsbook-runner, `docker` can run containers and publish ports on 127.0.0.1,
but cannot read root's files, write system directories or see root's processes'
environments, and cannot reach root's own engine.

Needs root (to run the script and switch users). Fails, never skips, when the engine
cannot be brought up: the message says why.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "rootless-engine"
USER = os.environ.get("OPSBOOK_RUNNER_USER", "opsbook-runner")
RUNTIME_DIR = os.environ.get("OPSBOOK_RUNNER_RUNTIME_DIR", f"/tmp/{USER}-run")
DOCKER_HOST = f"unix://{RUNTIME_DIR}/docker.sock"
PIDFILE = Path(f"/run/opsbook-rootless-engine/{USER}.pid")
IMAGE = "debian:bookworm-slim"


def run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd="/")


def as_user(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """ARGS as the runner, with the rootless engine as its Docker."""
    return run(["runuser", "-u", USER, "--", "env", f"DOCKER_HOST={DOCKER_HOST}", *args], timeout)


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return as_user("docker", *args, timeout=timeout)


def explain(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"


@pytest.fixture(scope="module", autouse=True)
def engine() -> None:
    """Bring the engine up (the script is idempotent) and check it answers."""
    if os.geteuid() != 0:
        pytest.fail(
            "these tests need root: sudo scripts/rootless-engine, then run pytest as root",
            pytrace=False,
        )
    if shutil.which("docker") is None:
        pytest.fail("no docker CLI: run scripts/bootstrap first", pytrace=False)
    done = run(["bash", str(SCRIPT)], timeout=300)
    if done.returncode != 0:
        pytest.fail(
            f"scripts/rootless-engine could not bring the engine up:\n{explain(done)}",
            pytrace=False,
        )
    info = docker("info", "--format", "{{.ServerVersion}} {{.SecurityOptions}}", timeout=30)
    if info.returncode != 0:
        pytest.fail(
            f"the rootless engine at {DOCKER_HOST} does not answer as {USER}:\n{explain(info)}",
            pytrace=False,
        )
    assert "rootless" in info.stdout, f"the engine at {DOCKER_HOST} is not rootless: {info.stdout}"


def test_second_run_is_a_quick_no_op() -> None:
    start = time.monotonic()
    done = run(["bash", str(SCRIPT)], timeout=120)
    took = time.monotonic() - start
    assert done.returncode == 0, explain(done)
    assert took < 10, f"a second run took {took:.1f} s; it should only check\n{done.stdout}"
    for busy in ("installing", "creating user", "starting", "copying", "adding sub"):
        assert busy not in done.stdout, f"second run did work ({busy!r}):\n{done.stdout}"
    last = done.stdout.strip().splitlines()[-1]
    assert last == f"rootless-engine: ready: DOCKER_HOST={DOCKER_HOST} (user {USER})"


def test_status_reports_up() -> None:
    done = run(["bash", str(SCRIPT), "--status"], timeout=60)
    assert done.returncode == 0, explain(done)
    assert f"up: DOCKER_HOST={DOCKER_HOST}" in done.stdout


def test_user_is_unprivileged_and_cannot_reach_roots_engine() -> None:
    groups = run(["id", "-nG", USER]).stdout.split()
    assert "docker" not in groups and "sudo" not in groups, groups
    assert pwd.getpwnam(USER).pw_uid != 0
    done = docker("-H", "unix:///var/run/docker.sock", "info", timeout=30)
    assert done.returncode != 0, f"{USER} can use root's engine:\n{explain(done)}"


def test_containers_run() -> None:
    done = docker("run", "--rm", IMAGE, "true", timeout=60)
    assert done.returncode == 0, explain(done)


def test_container_cannot_read_shadow_through_a_bind_mount_of_root() -> None:
    done = docker("run", "--rm", "-v", "/:/host", IMAGE, "cat", "/host/etc/shadow", timeout=60)
    assert done.returncode != 0, f"read /etc/shadow of the host:\n{explain(done)}"
    assert "Permission denied" in done.stderr, explain(done)


def test_privileged_container_cannot_read_shadow_either() -> None:
    done = docker(
        "run", "--rm", "--privileged", "-v", "/:/host", IMAGE, "cat", "/host/etc/shadow", timeout=60
    )
    assert done.returncode != 0, f"read /etc/shadow of the host:\n{explain(done)}"
    assert "Permission denied" in done.stderr, explain(done)


def test_container_cannot_write_usr_local_bin() -> None:
    name = f"rootless-test-{uuid.uuid4().hex[:8]}"
    target = Path("/usr/local/bin") / name
    try:
        done = docker(
            "run", "--rm", "-v", "/:/host", IMAGE, "sh", "-c", f"touch /host{target}", timeout=60
        )
        assert done.returncode != 0, f"wrote {target} on the host:\n{explain(done)}"
        assert "Permission denied" in done.stderr, explain(done)
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _python_mounts() -> list[str]:
    """debian:bookworm-slim has no python3: lend it the host's (also bookworm), read-only."""
    binary = Path("/usr/bin/python3").resolve()
    if not binary.exists():
        pytest.fail(
            "needs the host's /usr/bin/python3 (Debian package python3) to serve HTTP",
            pytrace=False,
        )
    stdlib = Path("/usr/lib") / binary.name
    mounts = ["-v", f"{binary}:/usr/local/bin/python3:ro", "-v", f"{stdlib}:{stdlib}:ro"]
    for line in run(["ldd", str(binary)]).stdout.splitlines():
        if "libexpat" in line and "=>" in line:  # the one library the slim image lacks
            path = line.split("=>")[1].split()[0]
            mounts += [
                "-v",
                f"{Path(path).resolve()}:/usr/lib/x86_64-linux-gnu/{Path(path).name}:ro",
            ]
    return mounts


def test_port_published_on_loopback_answers() -> None:
    port = _free_loopback_port()
    name = f"rootless-test-{uuid.uuid4().hex[:8]}"
    try:
        done = docker(
            "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", *_python_mounts(),
            IMAGE, "python3", "-m", "http.server", "8080", "--bind", "0.0.0.0",
            timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, explain(done)
        deadline, last = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    assert resp.status == 200
                    return
            except (OSError, urllib.error.URLError) as exc:
                last = exc
            time.sleep(0.3)
        logs = docker("logs", name, timeout=30)
        raise AssertionError(f"nothing answered on 127.0.0.1:{port}: {last!r}\n{explain(logs)}")
    finally:
        docker("rm", "-f", name, timeout=60)


def _root_pids() -> list[int]:
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid_line = next(
                line for line in status.read_text().splitlines() if line.startswith("Uid:")
            )
        except (OSError, StopIteration):
            continue
        if uid_line.split()[1] == "0":
            pids.append(int(status.parent.name))
    return pids


def test_user_cannot_read_root_processes_environments() -> None:
    pids = [1, *[p for p in _root_pids() if p != 1][:20]]
    for pid in pids:
        done = as_user("cat", f"/proc/{pid}/environ", timeout=10)
        if "No such file" in done.stderr:  # it exited meanwhile
            continue
        assert done.returncode != 0 and not done.stdout, f"{USER} read /proc/{pid}/environ"


def test_daemon_carries_none_of_roots_environment() -> None:
    """The runner can read its own daemon's environment: it must hold nothing of root's."""
    assert PIDFILE.exists(), (
        f"{PIDFILE} missing: the engine was not started by scripts/rootless-engine"
    )
    pid = PIDFILE.read_text().strip()
    names = {
        item.split("=", 1)[0]
        for item in Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
        if item
    }
    allowed = {
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "PATH",
        "PWD",
        "XDG_RUNTIME_DIR",
        "_DOCKERD_ROOTLESS_CHILD",
    }
    assert names <= allowed, f"rootlesskit pid {pid} has extra variables: {sorted(names - allowed)}"


def test_compose_v2_works_for_the_user() -> None:
    done = docker("compose", "version", timeout=30)
    assert done.returncode == 0, explain(done)
    assert "Docker Compose version" in done.stdout, done.stdout
