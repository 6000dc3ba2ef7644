"""Workloads -> Kubernetes objects as plain dicts (the base of the Kustomize tree).

Labels follow the recommended `app.kubernetes.io/*` set; `part-of` is the platform's
short name, which the pages select pods by (`kubectl get pods -l
app.kubernetes.io/part-of=...`). The container is named after its service, so the pages'
`kubectl set image deployment/api api=IMAGE` names a real container.
"""

from __future__ import annotations

from typing import Any

from opsbook.facts import Facts
from opsbook.k8s.workloads import EnvVar, Probe, Workload

Obj = dict[str, Any]

STARTUP_SECONDS = 60  # the api migrates the database before it serves (entrypoint.sh)
RULES_KEY = "opsbook.rules.yml"


def credentials_secret(facts: Facts) -> str:
    return f"{facts.platform.short_name}-credentials"


def selector(w: Workload, facts: Facts) -> dict[str, str]:
    return {"app.kubernetes.io/name": w.name,
            "app.kubernetes.io/part-of": facts.platform.short_name}


def labels(w: Workload, facts: Facts) -> dict[str, str]:
    return {**selector(w, facts), "app.kubernetes.io/component": w.component}


def _meta(name: str, label_set: dict[str, str]) -> Obj:
    return {"name": name, "labels": label_set}


def _probe(p: Probe, w: Workload, period: int, failures: int) -> Obj:
    action: Obj = (
        {"httpGet": {"path": p.path, "port": w.port_name}}
        if p.path
        else {"exec": {"command": list(p.command)}}
    )
    return {**action, "periodSeconds": period, "timeoutSeconds": 2, "failureThreshold": failures}


def _env(e: EnvVar, facts: Facts, w: Workload) -> Obj:
    if e.secret_key:
        ref = {"name": credentials_secret(facts), "key": e.secret_key}
        return {"name": e.name, "valueFrom": {"secretKeyRef": ref}}
    if e.limit_of:
        ref = {"containerName": w.name, "resource": e.limit_of}
        return {"name": e.name, "valueFrom": {"resourceFieldRef": ref}}
    return {"name": e.name, "value": e.value}


def container(w: Workload, facts: Facts) -> Obj:
    c: Obj = {
        "name": w.name,
        "image": w.image,
        "imagePullPolicy": "IfNotPresent",
    }
    if w.args:
        c["args"] = list(w.args)
    c["ports"] = [{"name": w.port_name, "containerPort": w.port}]
    if w.env:
        c["env"] = [_env(e, facts, w) for e in w.env if e.limit_of is None or w.resources]
    if w.resources:
        r = w.resources
        c["resources"] = {
            "requests": {"cpu": r.requests.cpu, "memory": r.requests.memory},
            "limits": {"cpu": r.limits.cpu, "memory": r.limits.memory},
        }
    if w.startup:
        c["startupProbe"] = _probe(w.startup, w, 2, STARTUP_SECONDS // 2)
    if w.live:
        c["livenessProbe"] = _probe(w.live, w, 10, 3)
    if w.ready:
        c["readinessProbe"] = _probe(w.ready, w, 2, 3)
    if w.mounts:
        c["volumeMounts"] = [{"name": m.name, "mountPath": m.path} for m in w.mounts]
    c["securityContext"] = {"allowPrivilegeEscalation": False}
    return c


def workload(w: Workload, facts: Facts) -> Obj:
    """A Deployment, or a StatefulSet with a volume claim for a service that keeps data."""
    pod: Obj = {
        "automountServiceAccountToken": False,  # nothing here talks to the cluster's API
        "containers": [container(w, facts)],
    }
    volumes = [
        {"name": m.name, "configMap": {"name": m.config_map}}
        if m.config_map
        else {"name": m.name, "emptyDir": {}}
        for m in w.mounts
        if not (w.stateful and m.config_map is None)
    ]
    if volumes:
        pod["volumes"] = volumes
    spec: Obj = {
        "replicas": w.replicas,
        "selector": {"matchLabels": selector(w, facts)},
        "template": {"metadata": {"labels": labels(w, facts)}, "spec": pod},
    }
    if not w.stateful:
        # a rolling update that never drops below the replicas asked for (deployment.md)
        spec["strategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        }
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": _meta(w.name, labels(w, facts)), "spec": spec}
    data = w.data
    assert data is not None, f"{w.name}: a StatefulSet needs a data mount"
    spec["serviceName"] = w.name
    spec["volumeClaimTemplates"] = [{
        "metadata": {"name": data.name},
        "spec": {"accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": w.storage}}},
    }]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": _meta(w.name, labels(w, facts)), "spec": spec}


def services(w: Workload, facts: Facts) -> list[Obj]:
    """`NAME` for clients (headless for a StatefulSet), and `NAME-pods`, headless, for a
    scraped workload: Prometheus resolves it to every pod, as it does Docker's DNS name
    in the sandbox."""
    port = {"name": w.port_name, "port": w.port, "targetPort": w.port_name}

    def service(name: str, headless: bool) -> Obj:
        spec: Obj = {"selector": selector(w, facts), "ports": [port]}
        if headless:
            spec["clusterIP"] = "None"
        return {"apiVersion": "v1", "kind": "Service",
                "metadata": _meta(name, labels(w, facts)), "spec": spec}

    found = [service(w.name, headless=w.stateful)]
    if w.scraped:
        found.append(service(pods_service(w.name), headless=True))
    return found


def pods_service(name: str) -> str:
    return f"{name}-pods"


def config_map(name: str, data: dict[str, str], facts: Facts) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(name, {"app.kubernetes.io/part-of": facts.platform.short_name}),
        "data": data,
    }


def namespace(facts: Facts) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _meta(facts.platform.kubernetes.namespace,
                          {"app.kubernetes.io/part-of": facts.platform.short_name}),
    }


def prometheus_config(facts: Facts, workloads: list[Workload], sandbox_config: Obj) -> Obj:
    """The sandbox's Prometheus configuration with the cluster's names: the same global
    intervals and job names (the alert rules select job="api" / job="worker"), each
    scraped workload found through its headless Service."""
    prom = facts.service("prometheus").container_port
    am = facts.service("alertmanager").container_port
    jobs: list[Obj] = []
    for w in workloads:
        if not w.scraped:
            continue
        jobs.append({
            "job_name": w.name,
            "metrics_path": facts.service(w.name).metrics_path or "/metrics",
            "dns_sd_configs": [{"names": [pods_service(w.name)], "type": "A", "port": w.port,
                                "refresh_interval": "5s"}],
        })
    jobs += [
        {"job_name": "prometheus", "static_configs": [{"targets": [f"localhost:{prom}"]}]},
        {"job_name": "alertmanager", "static_configs": [{"targets": [f"alertmanager:{am}"]}]},
    ]
    return {
        "global": sandbox_config.get("global", {}),
        "rule_files": ["/etc/prometheus/rules/*.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"alertmanager:{am}"]}]}]},
        "scrape_configs": jobs,
    }
