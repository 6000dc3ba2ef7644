"""The sandbox's files agree with the facts, and its errors say what to do. No Docker needed."""

from __future__ import annotations

import re
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
import yaml

from opsbook.errors import OpsbookError
from opsbook.facts import load_facts
from opsbook.project import Project
from opsbook.sandbox import compose_environment, port_variable
from opsbook.sandbox.docker import require_docker
from opsbook.sandbox.lifecycle import ServiceStatus, busy_ports, parse_ps_json

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project() -> Project:
    return Project(ROOT)


@pytest.fixture(scope="module")
def facts(project: Project):
    return load_facts(project.facts_dir)


@pytest.fixture(scope="module")
def compose(project: Project) -> dict:
    return yaml.safe_load((project.sandbox_dir / "compose.yaml").read_text())


def test_environment_carries_every_port_and_the_current_version(project, facts) -> None:
    env = compose_environment(project, facts)
    assert Path(env["COMPOSE_FILE"]).is_absolute()
    assert Path(env["COMPOSE_FILE"]).is_file()
    assert env["COMPOSE_PROJECT_NAME"] == facts.platform.compose_project
    assert env["API_VERSION"] == facts.deployment.versions.current
    assert env["API_PORT"] == "18001" == str(facts.service("api").port)
    for service in facts.services:
        assert env[port_variable(service.name)] == str(service.port)
    assert all(isinstance(v, str) for v in env.values())


def test_compose_services_are_the_facts_services(compose, facts) -> None:
    always = {n for n, s in compose["services"].items() if "profiles" not in s}
    assert sorted(always) == sorted(s.name for s in facts.services)


def test_the_next_pool_is_the_api_on_demand_behind_the_proxy(compose) -> None:
    on_demand = {n: s for n, s in compose["services"].items() if "profiles" in s}
    assert list(on_demand) == ["api-next"]
    spec, api = on_demand["api-next"], compose["services"]["api"]
    assert spec["profiles"] == ["next"]
    assert spec["image"] == "opsbook/api:${API_NEXT_VERSION:-${API_VERSION:?}}"
    assert "ports" not in spec  # reached through the proxy only
    assert spec["healthcheck"] == api["healthcheck"]
    assert spec["environment"] == api["environment"]


def test_compose_publishes_on_loopback_from_the_port_variables_only(compose, facts) -> None:
    for service in facts.services:
        ports = compose["services"][service.name]["ports"]
        assert len(ports) == 1, service.name
        match = re.fullmatch(
            r"127\.0\.0\.1:\$\{(\w+):\?[^}]*\}(?:-\$\{(\w+):\?\})?:(\d+)", ports[0])
        assert match, f"{service.name}: {ports[0]!r} must be 127.0.0.1:${{VAR:?}}:PORT"
        assert match[1] == port_variable(service.name)
        # a range exactly when the service scales
        assert (match[2] is not None) == (service.max_replicas > 1), service.name
        if match[2]:
            assert match[2] == port_variable(service.name) + "_LAST"
        assert int(match[3]) == service.container_port


def test_every_service_has_a_healthcheck_and_a_facts_image(compose, facts) -> None:
    for service in facts.services:
        spec = compose["services"][service.name]
        assert spec["healthcheck"]["test"], service.name
        assert spec["image"].split(":")[0] == service.image, service.name
    for name in ("api", "worker"):
        assert compose["services"][name]["image"].endswith(":${API_VERSION:?}")


def test_prometheus_scrapes_api_and_worker_every_5s_and_loads_the_rules(project) -> None:
    config = yaml.safe_load((project.sandbox_dir / "prometheus" / "prometheus.yml").read_text())
    assert config["global"]["scrape_interval"] == config["global"]["evaluation_interval"] == "5s"
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # every api replica, by DNS; one of each of the others
    assert jobs["api"]["dns_sd_configs"] == [
        {"names": ["api", "api-next"], "type": "A", "port": 8000, "refresh_interval": "5s"}
    ]
    assert jobs["api"]["relabel_configs"] == [  # pool="api" or pool="api-next"
        {"source_labels": ["__meta_dns_name"], "target_label": "pool"}
    ]
    assert jobs["worker"]["static_configs"][0]["targets"] == ["worker:9100"]
    assert jobs["proxy"]["static_configs"][0]["targets"] == ["proxy:8404"]


def test_docker_missing_is_one_line_naming_the_bootstrap(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OpsbookError) as err:
        require_docker()
    assert len(err.value.problems) == 1
    assert "scripts/bootstrap" in err.value.problems[0]


def test_a_port_in_use_names_the_port_and_the_service(facts) -> None:
    # A free port stands in for the api's, so this runs while a real sandbox is up.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        api = facts.service("api").model_copy(update={"port": port})
        problems = busy_ports(facts.model_copy(update={"services": [api]}))
    assert problems == [
        f"port {port} for service api is already in use on 127.0.0.1; free it or "
        "change `port` for api in facts/services.yml"
    ]


def test_ps_json_both_formats_and_status_ok() -> None:
    line = '{"Service": "api", "State": "running", "Health": "healthy"}'
    assert parse_ps_json(line + "\n" + line) == parse_ps_json(f"[{line}, {line}]")
    assert parse_ps_json("") == []
    assert ServiceStatus("api", "running", "healthy").ok
    assert ServiceStatus("redis", "running", "").ok
    assert not ServiceStatus("api", "running", "unhealthy").ok
    assert not ServiceStatus("api", "missing", "").ok


def test_a_checkout_the_runner_cannot_read_is_staged_safely(
    project_copy: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """Rootless mode: a private checkout's sandbox/ is copied where the runner can read it,
    and a copy someone else prepared in the shared temp dir is refused, not used."""
    from opsbook.engine import current_engine
    from opsbook.sandbox.env import sandbox_dir, stage_sandbox

    if current_engine().isolation != "rootless":
        pytest.fail("run as root after scripts/bootstrap: this checks the rootless mode")
    shutil.copytree(ROOT / "sandbox" / "prometheus", project_copy.sandbox_dir / "prometheus")
    shutil.copytree(ROOT / "sandbox" / "images", project_copy.sandbox_dir / "images")
    (project_copy.sandbox_dir / "compose.yaml").write_text("services: {}\n")
    project_copy.root.chmod(0o700)  # like a checkout under /root
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # private: the copy must not go there
    tempfile.tempdir = None  # re-read TMPDIR
    try:
        target = sandbox_dir(project_copy)
        assert target != project_copy.sandbox_dir and target.parent == Path("/tmp")
        shutil.rmtree(target, ignore_errors=True)
        target.symlink_to(tmp_path)  # planted by someone else
        with pytest.raises(OpsbookError, match="not a folder only we can write"):
            stage_sandbox(project_copy)
        target.unlink()
        request.addfinalizer(lambda: shutil.rmtree(target, ignore_errors=True))
        staged = stage_sandbox(project_copy)
        assert (staged / "compose.yaml").read_text() == "services: {}\n"
        assert (staged / "prometheus" / "prometheus.yml").stat().st_mode & 0o777 == 0o644
        # an entrypoint keeps its execute bits, or its container cannot start
        assert (staged / "images" / "postgres" / "entrypoint.sh").stat().st_mode & 0o777 == 0o755
    finally:
        tempfile.tempdir = None
