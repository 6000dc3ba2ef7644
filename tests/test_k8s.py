"""deploy/k8s/: rendered from the facts, free of drift, valid against the Kubernetes
schemas, and every overlay renders with `kubectl kustomize` to what the facts say."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from opsbook.cli import main
from opsbook.errors import OpsbookError
from opsbook.facts import Facts, load_facts
from opsbook.k8s import kubectl, validate
from opsbook.k8s.generate import HEADER, KIND_CLUSTER, OUT_DIR, render_tree
from opsbook.k8s.images import compose_images
from opsbook.k8s.manifests import RULES_KEY
from opsbook.k8s.overlays import OVERLAYS, exposed
from opsbook.k8s.workloads import DEPLOYED
from opsbook.project import Project

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / OUT_DIR
# Files that are not Kubernetes objects: Kustomize's and kind's own configuration.
NOT_OBJECTS = {"kustomization.yaml", KIND_CLUSTER}


def opsbook(project: Project, *args: str) -> Result:
    return CliRunner().invoke(main, ["--project", str(project.root), "k8s", *args])


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load_facts(ROOT / "facts")


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """overlay name -> the objects `kubectl kustomize` renders it to."""
    return {name: kubectl.kustomize(DEPLOY / "overlays" / name) for name, _ in OVERLAYS}


@pytest.fixture
def k8s_project(tmp_path: Path) -> Project:
    """What `opsbook k8s render` reads: the facts and the sandbox files it takes from."""
    root = tmp_path / "project"
    for part in ("facts", "mkdocs.yml", "sandbox/compose.yaml", "sandbox/prometheus/prometheus.yml",
                 "sandbox/alertmanager/alertmanager.yml"):
        (root / part).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy2
        copy(ROOT / part, root / part)
    return Project(root)


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workload_objects(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {**by_kind(objects, "Deployment"), **by_kind(objects, "StatefulSet")}


# --- render and drift ---------------------------------------------------------------


def test_checked_in_tree_matches_the_facts(repo_project: Project) -> None:
    result = opsbook(repo_project, "render", "--check")
    assert result.exit_code == 0, result.output
    assert re.search(r"deploy/k8s: \d+ files match the facts", result.output)


def test_every_file_says_it_is_generated_and_by_what() -> None:
    files = sorted(DEPLOY.rglob("*.yaml"))
    assert len(files) >= 15
    for path in files:
        assert path.read_text().startswith(HEADER), path
    assert "`opsbook k8s render`" in HEADER


def test_render_is_deterministic(k8s_project: Project, tmp_path: Path) -> None:
    for out in ("a", "b"):
        assert opsbook(k8s_project, "render", "--out", str(tmp_path / out)).exit_code == 0
    a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*.yaml")}
    b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*.yaml")}
    assert a == b and len(a) == len(render_tree(k8s_project, load_facts(k8s_project.facts_dir)))


def test_drift_names_every_file_one_line_each(k8s_project: Project, tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    assert opsbook(k8s_project, "render", "--out", str(out)).exit_code == 0
    api = out / "base" / "api.yaml"
    api.write_text(api.read_text().replace("replicas: 2", "replicas: 5", 1))
    (out / "overlays" / "staging" / "replicas.yaml").unlink()
    (out / "overlays" / "kind" / "old.yaml").write_text(HEADER + "kind: Old\n")
    (out / "overlays" / "kind" / "mine.yaml").write_text("# hand-written, not ours\n")
    result = opsbook(k8s_project, "render", "--out", str(out), "--check")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, result.output
    assert any("base/api.yaml: differs" in e for e in errors)
    assert any("overlays/staging/replicas.yaml: missing" in e for e in errors)
    assert any("overlays/kind/old.yaml: left over" in e for e in errors)
    assert "-  replicas: 5" in result.output and "+  replicas: 2" in result.output
    # a fresh render repairs it, and removes what it no longer generates (only that)
    assert opsbook(k8s_project, "render", "--out", str(out)).exit_code == 0
    assert opsbook(k8s_project, "render", "--out", str(out), "--check").exit_code == 0
    assert not (out / "overlays" / "kind" / "old.yaml").exists()
    assert (out / "overlays" / "kind" / "mine.yaml").exists()


def test_a_changed_fact_changes_the_manifests(k8s_project: Project, tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    assert opsbook(k8s_project, "render", "--out", str(out)).exit_code == 0
    services = k8s_project.facts_dir / "services.yml"
    services.write_text(services.read_text().replace("ready: /health/ready", "ready: /ready", 1))
    result = opsbook(k8s_project, "render", "--out", str(out), "--check")
    assert result.exit_code == 1 and "base/api.yaml: differs" in result.output
    assert "+            path: /ready" in result.output


def test_replicas_of_an_unknown_service_are_a_facts_error(k8s_project: Project) -> None:
    envs = k8s_project.facts_dir / "environments.yml"
    envs.write_text(envs.read_text().replace("replicas: {api: 4,", "replicas: {apy: 4,", 1))
    with pytest.raises(OpsbookError) as caught:
        load_facts(k8s_project.facts_dir)
    assert "environments.production.replicas.apy" in str(caught.value)
    assert "'apy', which is not a service" in str(caught.value)


# --- schemas ------------------------------------------------------------------------


def test_every_file_and_every_rendered_overlay_is_schema_valid(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    checked = 0
    problems: list[str] = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        if path.name in NOT_OBJECTS or path.parent.name in dict(OVERLAYS):
            continue  # overlay files are patches: checked as the overlays render below
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        problems += validate.problems(docs, str(path.relative_to(ROOT)))
        checked += len(docs)
    for name, objects in rendered.items():
        problems += validate.problems(objects, f"overlays/{name} (rendered)")
        checked += len(objects)
    assert problems == []
    assert checked >= 70


def test_schema_check_catches_a_misspelled_field_and_a_wrong_type(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    api = yaml.safe_load(yaml.safe_dump(by_kind(rendered["kind"], "Deployment")["api"]))
    api["spec"]["replcas"] = 2
    api["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8000"
    found = validate.problems([api], "test")
    assert len(found) == 1 and found[0].startswith("test: Deployment/api: ")
    mistyped = yaml.safe_load(yaml.safe_dump(by_kind(rendered["kind"], "Service")["api"]))
    mistyped["spec"]["ports"][0]["port"] = "http"
    assert validate.problems([mistyped], "t") == [
        "t: Service/api: spec.ports.0.port: 'http' is not of type 'integer'"
    ]


# --- every overlay, rendered by kubectl, against the facts ----------------------------


def test_overlays_deploy_every_service_with_the_facts(
    facts: Facts, rendered: dict[str, list[dict[str, Any]]],
) -> None:
    images = compose_images(ROOT / "sandbox" / "compose.yaml", facts)
    for overlay, environment in OVERLAYS:
        objects = rendered[overlay]
        assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} \
            == {facts.platform.kubernetes.namespace}, overlay
        workloads = workload_objects(objects)
        assert sorted(workloads) == sorted(DEPLOYED), overlay
        wanted_replicas = facts.environments[environment].replicas
        for name, obj in workloads.items():
            spec = facts.service(name)
            where = f"{overlay}: {name}"
            assert obj["spec"]["replicas"] == wanted_replicas.get(name, spec.replicas), where
            (c,) = obj["spec"]["template"]["spec"]["containers"]
            assert c["name"] == name and c["image"] == images[name], where
            assert c["ports"][0]["containerPort"] == spec.container_port, where
            assert spec.resources is not None
            assert c["resources"] == {
                "requests": spec.resources.requests.model_dump(),
                "limits": spec.resources.limits.model_dump(),
            }, where
            http = {kind: c[kind]["httpGet"]["path"] for kind in
                    ("livenessProbe", "readinessProbe", "startupProbe")
                    if "httpGet" in c.get(kind, {})}
            assert http.get("livenessProbe") == spec.health.live, where
            assert http.get("readinessProbe") == spec.health.ready, where
            if spec.health.live is None and spec.health.ready is None:
                assert "exec" in c["livenessProbe"], f"{where}: probed somehow"
        services = by_kind(objects, "Service")
        for name in DEPLOYED:
            assert services[name]["spec"]["ports"][0]["port"] == facts.service(name).container_port


def test_kind_overlay_is_the_sandbox(facts: Facts, rendered: dict[str, list[dict[str, Any]]]) \
        -> None:
    objects = rendered["kind"]
    for name, obj in workload_objects(objects).items():
        assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Never", name
    secret = by_kind(objects, "Secret")["opsbook-credentials"]
    creds = facts.platform.sandbox_credentials
    assert secret["stringData"] == {"DB_PASSWORD": creds.database_password,
                                    "REDIS_PASSWORD": creds.redis_password}
    rules = yaml.safe_load(by_kind(objects, "ConfigMap")["prometheus-rules"]["data"][RULES_KEY])
    scaled = {r["alert"]: r["for"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert scaled["OpsbookErrorRateWarning"] == "12s"  # 2m x scenarios.for_scale 0.1
    services = by_kind(objects, "Service")
    cluster = yaml.safe_load((DEPLOY / KIND_CLUSTER).read_text())
    mappings = {m["hostPort"]: m["containerPort"] for m in cluster["nodes"][0]["extraPortMappings"]}
    for e in exposed(facts):
        spec = services[e.service]["spec"]
        assert spec["type"] == "NodePort" and spec["ports"][0]["nodePort"] == e.node_port
        assert mappings[e.host_port] == e.node_port
    assert sorted(mappings) == [18000, 19090, 19093]  # API_URL, PROM_URL, AM_URL of sandbox


def test_staging_and_production_keep_real_credentials_and_alerts_out(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for overlay in ("staging", "production"):
        objects = rendered[overlay]
        assert by_kind(objects, "Secret") == {}, overlay
        rules = yaml.safe_load(by_kind(objects, "ConfigMap")["prometheus-rules"]["data"][RULES_KEY])
        alert = next(r for g in rules["groups"] for r in g["rules"]
                     if r.get("alert") == "OpsbookErrorRateWarning")
        assert alert["for"] == "2m", overlay  # the real `for`, not the sandbox's
        labels = workload_objects(objects)["api"]["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == overlay
    text = (DEPLOY / "overlays" / "production" / "kustomization.yaml").read_text()
    assert "created out of band" in text


def test_compose_memory_limits_agree_with_the_facts(facts: Facts) -> None:
    compose = yaml.safe_load((ROOT / "sandbox" / "compose.yaml").read_text())
    for name in ("api", "worker"):
        limit = facts.service(name).resources
        assert limit is not None
        mem = compose["services"][name]["mem_limit"]  # compose's "512m" is 512 MiB
        assert mem.removesuffix("m") + "Mi" == limit.limits.memory, name


def test_kustomize_failure_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    with pytest.raises(OpsbookError) as caught:
        kubectl.kustomize(tmp_path)
    assert caught.value.problems[0] == f"kubectl kustomize {tmp_path}: failed"
    assert "missing.yaml" in str(caught.value)
