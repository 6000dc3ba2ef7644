"""The Kustomize tree: a base every environment shares, and one overlay per environment.

    base/                namespace, six workloads with their Services, the Prometheus and
                         Alertmanager configuration, the alert rules with the real `for`
    overlays/kind/       the sandbox on kind: images loaded into the node, never pulled;
                         the Services a reader's shell reaches on NodePorts that
                         kind-cluster.yaml maps to the sandbox's host ports; the sandbox's
                         credentials; the sandbox's alert rules (`for` scaled)
    overlays/staging/    replicas from facts/environments.yml; credentials created out of band
    overlays/production/ the same, with production's replicas
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from opsbook.errors import OpsbookError
from opsbook.facts import Facts
from opsbook.k8s.manifests import Obj, credentials_secret
from opsbook.k8s.workloads import DB_PASSWORD, REDIS_PASSWORD, Workload

NODE_PORT_BASE = 30000  # the bottom of Kubernetes' NodePort range (30000-32767)
# (overlay folder, environment of the facts it deploys)
OVERLAYS = (("kind", "sandbox"), ("staging", "staging"), ("production", "production"))


@dataclass(frozen=True)
class Overlay:
    name: str
    environment: str
    note: str  # header comment of its kustomization.yaml
    kustomization: Obj
    files: dict[str, list[Obj]] = field(default_factory=dict)  # file name -> its documents


@dataclass(frozen=True)
class Exposed:
    """A Service the kind cluster publishes on 127.0.0.1, where the sandbox does."""

    service: str
    host_port: int
    node_port: int


def exposed(facts: Facts) -> list[Exposed]:
    """The sandbox's URLs (api, Prometheus, Alertmanager), each reached on kind through a
    NodePort: the pages' `$API_URL`, `$PROM_URL` and `$AM_URL` work unchanged."""
    sandbox = facts.sandbox
    found = []
    for service, url in (("api", sandbox.api_url), ("prometheus", sandbox.prometheus_url),
                         ("alertmanager", sandbox.alertmanager_url)):
        port = urlsplit(url).port
        if port is None:
            raise OpsbookError(f"environments.sandbox: {url} names no port")
        found.append(Exposed(service, port, NODE_PORT_BASE + port % 1000))
    if len({e.node_port for e in found}) != len(found):
        raise OpsbookError("the sandbox's api, Prometheus and Alertmanager ports end in the "
                           "same three digits; their kind NodePorts would collide")
    return found


def _patch(w: Workload, spec: Obj) -> Obj:
    kind = "StatefulSet" if w.stateful else "Deployment"
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": w.name}, "spec": spec}


def _replicas(facts: Facts, environment: str, workloads: list[Workload]) -> list[Obj]:
    wanted = facts.environments[environment].replicas
    return [_patch(w, {"replicas": wanted[w.name]}) for w in workloads if w.name in wanted]


def _kustomization(facts: Facts, resources: list[str], patches: list[str],
                   extra: Obj | None = None) -> Obj:
    k: Obj = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # the base's namespace does not reach an overlay's own resources (its Secret)
        "namespace": facts.platform.kubernetes.namespace,
        "resources": resources,
    }
    if patches:
        k["patches"] = [{"path": p} for p in patches]
    k.update(extra or {})
    return k


def kind_overlay(facts: Facts, workloads: list[Workload], sandbox_rules: str,
                 rules_key: str) -> Overlay:
    creds = facts.platform.sandbox_credentials
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": credentials_secret(facts),
                     "labels": {"app.kubernetes.io/part-of": facts.platform.short_name}},
        "type": "Opaque",
        "stringData": {DB_PASSWORD: creds.database_password,
                       REDIS_PASSWORD: creds.redis_password},
    }
    by_name = {w.name: w for w in workloads}
    never_pull = [
        _patch(w, {"template": {"spec": {"containers": [
            {"name": w.name, "imagePullPolicy": "Never"}]}}})
        for w in workloads
    ]
    node_ports = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": e.service},
         "spec": {"type": "NodePort", "ports": [
             {"name": by_name[e.service].port_name, "port": by_name[e.service].port,
              "nodePort": e.node_port}]}}
        for e in exposed(facts)
    ]
    rules = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "prometheus-rules"},
             "data": {rules_key: sandbox_rules}}
    files = {
        "credentials.yaml": [secret],
        "never-pull.yaml": never_pull,
        "node-ports.yaml": node_ports,
        "sandbox-rules.yaml": [rules],
    }
    replicas = _replicas(facts, "sandbox", workloads)
    if replicas:
        files["replicas.yaml"] = replicas
    patches = [name for name in files if name != "credentials.yaml"]
    note = (
        "# The sandbox on kind: `opsbook sandbox up --backend kind` loads the images the\n"
        "# Compose sandbox built into the node and applies this overlay.\n"
    )
    return Overlay("kind", "sandbox", note,
                   _kustomization(facts, ["../../base", "credentials.yaml"], patches), files)


def cluster_overlay(facts: Facts, name: str, environment: str,
                    workloads: list[Workload]) -> Overlay:
    files = {}
    replicas = _replicas(facts, environment, workloads)
    if replicas:
        files["replicas.yaml"] = replicas
    labels = {"pairs": {"app.kubernetes.io/instance": name}, "includeSelectors": False,
              "includeTemplates": True}
    note = (
        f"# {facts.environments[environment].description}.\n"
        f"# Expects the Secret {credentials_secret(facts)} (keys {DB_PASSWORD}, "
        f"{REDIS_PASSWORD}) in the namespace,\n"
        "# created out of band: no real credential is ever in this repository.\n"
    )
    return Overlay(name, environment, note,
                   _kustomization(facts, ["../../base"], list(files), {"labels": [labels]}), files)


def overlays(facts: Facts, workloads: list[Workload], sandbox_rules: str,
             rules_key: str) -> list[Overlay]:
    found = []
    for name, environment in OVERLAYS:
        if environment not in facts.environments:
            raise OpsbookError(f"overlay {name} deploys environment {environment!r}, which "
                               "facts/environments.yml does not define")
        if name == "kind":
            found.append(kind_overlay(facts, workloads, sandbox_rules, rules_key))
        else:
            found.append(cluster_overlay(facts, name, environment, workloads))
    return found


def kind_cluster(facts: Facts) -> Obj:
    """kind's own configuration: one node, each exposed NodePort published on 127.0.0.1
    at the sandbox's host port (kind's `extraPortMappings`)."""
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": facts.platform.short_name,
        "nodes": [{
            "role": "control-plane",
            "extraPortMappings": [
                {"containerPort": e.node_port, "hostPort": e.host_port,
                 "listenAddress": "127.0.0.1", "protocol": "TCP"}
                for e in exposed(facts)
            ],
        }],
    }
