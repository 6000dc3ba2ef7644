"""`opsbook sandbox up|down --backend kind`: a missing tool fails at once in one line;
with stand-in `kind`, `kubectl` and `docker` commands, the steps run in order and a
failure part-way deletes the cluster again. (A real kind cluster needs a container
registry for its node image; the CI workflow's kind job runs one.)"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPSBOOK = [sys.executable, "-m", "opsbook"]


def run_opsbook(*args: str, env: dict[str, str], project: Path = ROOT) \
        -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OPSBOOK, "--project", str(project), *args], capture_output=True,
                          text=True, env=env, cwd=project, timeout=60)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """What the kind backend reads, copied: its kubeconfig (.opsbook/) is the copy's own,
    so a real kind sandbox of the checkout is never touched."""
    root = tmp_path / "project"
    for part in ("facts", "mkdocs.yml", "deploy", "sandbox/compose.yaml",
                 "sandbox/prometheus/prometheus.yml", "sandbox/alertmanager/alertmanager.yml"):
        (root / part).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy2
        copy(ROOT / part, root / part)
    return root


def bare_env(path: str) -> dict[str, str]:
    """Our environment with PATH replaced and nothing pointing at a real engine."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPSBOOK_KUBECTL", "DOCKER_HOST", "KUBECONFIG")}
    env.update(PATH=path, OPSBOOK_ISOLATION="none", OPSBOOK_DOCKER_HOST="unix:///nonexistent")
    return env


@pytest.mark.parametrize("command", ["up", "down"])
def test_without_kind_it_fails_at_once_in_one_line(tmp_path: Path, command: str) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    started = time.monotonic()
    done = run_opsbook("sandbox", command, "--backend", "kind", env=bare_env(str(empty)))
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: the kind backend needs 'kind' on PATH (not found); ")
    assert "install kind" in lines[0] and "registry" in lines[0]
    assert time.monotonic() - started < 30  # nothing built, nothing waited for


def test_an_unknown_backend_is_refused(tmp_path: Path) -> None:
    done = run_opsbook("sandbox", "up", "--backend", "k3s", env=bare_env(os.environ["PATH"]))
    assert done.returncode == 2 and "'k3s' is not one of 'compose', 'kind'" in done.stderr


FAKE = """#!/bin/sh
echo "{name} $*" >> "$OPSBOOK_FAKE_LOG"
case "{name} $*" in
  "kind get clusters") exit 0 ;;
  "docker info"*) echo 27.0.0; exit 0 ;;
  "kubectl "*"rollout status statefulset/${OPSBOOK_FAKE_FAIL:-none}"*)
    echo "timed out" >&2; exit 1 ;;
esac
exit 0
"""


@pytest.fixture
def fakes(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("kind", "kubectl", "docker"):
        path = bin_dir / name
        path.write_text(FAKE.replace("{name}", name))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.log"
    env = bare_env(f"{bin_dir}:/usr/bin:/bin")
    env.update(OPSBOOK_FAKE_LOG=str(log), OPSBOOK_KUBECTL=str(bin_dir / "kubectl"))
    return env, log


def test_up_creates_loads_applies_and_waits_in_order(
    fakes: tuple[dict[str, str], Path], project: Path,
) -> None:
    env, log = fakes
    done = run_opsbook("sandbox", "up", "--backend", "kind", "--no-build", env=env,
                       project=project)
    assert done.returncode == 0, done.stderr
    calls = [c for c in log.read_text().splitlines() if not c.startswith("docker")]
    assert calls[0] == "kind get clusters"
    assert calls[1].startswith("kind create cluster --name opsbook --config ")
    assert calls[1].endswith("deploy/k8s/kind-cluster.yaml --wait 120s")
    load = calls[2].split()
    assert load[:5] == ["kind", "load", "docker-image", "--name", "opsbook"]
    # every image compose builds, the api and worker in all three releases
    assert {"opsbook/api:v2", "opsbook/api:v1", "opsbook/api:v3-broken", "opsbook/worker:v1",
            "opsbook/postgres:15", "opsbook/redis:7", "opsbook/prometheus:2",
            "opsbook/alertmanager:0"} <= set(load[5:])
    assert calls[3].startswith("kubectl --context kind-opsbook apply -k ")
    assert calls[3].endswith("deploy/k8s/overlays/kind")
    waits = [c.split()[7] for c in calls[4:]]  # kubectl --context C -n NS rollout status X
    assert waits == ["deployment/api", "deployment/worker", "statefulset/postgres",
                     "statefulset/redis", "deployment/prometheus", "deployment/alertmanager"]
    assert "export KUBECONFIG=.opsbook/kind.kubeconfig" in done.stdout


def test_a_failure_part_way_deletes_the_cluster(
    fakes: tuple[dict[str, str], Path], project: Path,
) -> None:
    env, log = fakes
    env["OPSBOOK_FAKE_FAIL"] = "postgres"
    done = run_opsbook("sandbox", "up", "--backend", "kind", "--no-build", env=env,
                       project=project)
    assert done.returncode == 1
    assert "rollout status statefulset/postgres" in done.stderr and "timed out" in done.stderr
    calls = log.read_text().splitlines()
    assert calls[-1] == "kind delete cluster --name opsbook"
    assert not any("statefulset/redis" in c for c in calls)  # stopped at the failure


def test_down_deletes_the_cluster(
    fakes: tuple[dict[str, str], Path], project: Path,
) -> None:
    env, log = fakes
    kubeconfig = project / ".opsbook" / "kind.kubeconfig"
    kubeconfig.parent.mkdir()
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    done = run_opsbook("sandbox", "down", "--backend", "kind", env=env, project=project)
    assert done.returncode == 0, done.stderr
    assert not kubeconfig.exists()
    assert log.read_text().splitlines() == ["kind delete cluster --name opsbook"]
    assert done.stdout.strip() == "kind cluster opsbook deleted"
