"""The sandbox behaves as the runbooks say: jobs flow, readiness tells the truth,
migrations go both ways, releases deploy and the broken one is caught.

Every test that breaks something puts it back in `finally`, because the sandbox is
shared by the whole session.
"""

from __future__ import annotations

import uuid

import pytest

from opsbook.sandbox import status
from opsbook.sandbox.lifecycle import parse_ps_json

pytestmark = pytest.mark.integration

APP_METRICS = (
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "opsbook_queue_depth",
    "opsbook_db_connections",
    "opsbook_cache_requests_total",
    "opsbook_memory_limit_bytes",
    "opsbook_build_info",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
)


@pytest.fixture(autouse=True)
def healthy(sandbox) -> None:
    """Start each test from a healthy sandbox: tests before us may have broken it."""
    sandbox.ensure_healthy()


def _ready(sandbox) -> bool:
    return sandbox.request("proxy", "/health/ready")[0] == 200


def test_every_service_healthy_and_published_on_loopback_only(sandbox) -> None:
    services = status(sandbox.project, sandbox.facts)
    assert [s.name for s in services] == [s.name for s in sandbox.facts.services]
    assert all(s.ok for s in services), [str(s) for s in services]
    rows = sandbox.compose("ps", "--format", "json").stdout
    published = [
        (p["URL"], p["PublishedPort"], p["TargetPort"])
        for row in parse_ps_json(rows)
        for p in row.get("Publishers") or []
        if p.get("PublishedPort")
    ]
    assert published, rows
    assert {url for url, _, _ in published} == {"127.0.0.1"}
    for service in sandbox.facts.services:
        # each replica publishes one port from the service's range (one port unless it scales)
        got = {(host, target) for _, host, target in published if host in service.host_ports}
        assert len(got) == service.replicas, (service.name, published)
        assert got.pop()[1] == service.container_port, service.name


def test_job_completes_and_its_row_is_in_postgres(sandbox) -> None:
    code, job = sandbox.request("proxy", "/api/v1/jobs", method="POST",
                                body={"kind": "echo", "payload": {"n": 7}})  # fmt: skip
    assert code == 202 and job["status"] == "queued", job

    def completed():
        code, body = sandbox.request("proxy", f"/api/v1/jobs/{job['id']}")
        return body if code == 200 and body["status"] == "completed" else None

    body = sandbox.wait_for("the worker to complete the job", completed, timeout=30)
    assert body["result"] == {"echo": {"n": 7}}
    db = sandbox.facts.platform.database
    row = sandbox.compose(
        "exec", "-T", "postgres", "psql", "-U", db.user, "-d", db.name, "-tAc",
        f"SELECT status, result::text FROM jobs WHERE id = '{job['id']}'",
    ).stdout.strip()  # fmt: skip
    assert row == 'completed|{"echo": {"n": 7}}'


def test_failed_job_reports_failed_with_its_error(sandbox) -> None:
    _, job = sandbox.request("proxy", "/api/v1/jobs", method="POST",
                             body={"kind": "fail", "payload": {"message": "boom"}})  # fmt: skip

    def failed():
        _, body = sandbox.request("proxy", f"/api/v1/jobs/{job['id']}")
        return body if body["status"] == "failed" else None

    assert sandbox.wait_for("the job to fail", failed, timeout=30)["error"] == "boom"


def test_ready_goes_503_naming_redis_while_redis_is_stopped(sandbox) -> None:
    try:
        sandbox.compose("stop", "redis")

        def unready():
            code, body = sandbox.request("proxy", "/health/ready")
            return body if code == 503 else None

        body = sandbox.wait_for("/health/ready to answer 503", unready, timeout=30)
        assert body["down"] == ["redis"], body
        assert body["checks"]["postgres"] == "ok"
    finally:
        sandbox.compose("start", "redis")
        sandbox.wait_for("/health/ready to answer 200 again", lambda: _ready(sandbox), 60)


def test_health_version_and_metrics_endpoints(sandbox) -> None:
    assert sandbox.request("proxy", "/health/live")[0] == 200
    code, version = sandbox.request("proxy", "/version")
    assert code == 200 and version["version"] == sandbox.facts.deployment.versions.current
    code, db = sandbox.request("proxy", "/health/db")
    assert code == 200 and db["revision"] == "0002", db
    sandbox.request("proxy", f"/api/v1/jobs/{uuid.uuid4()}")  # a 404 so routes are counted
    _, metrics = sandbox.request("proxy", "/metrics")
    missing = [name for name in APP_METRICS if f"\n{name}" not in metrics]
    assert not missing, missing
    assert 'route="/api/v1/jobs/{job_id}"' in metrics  # templates, not raw ids
    assert sandbox.request("worker", "/health/live")[0] == 200
    _, worker_metrics = sandbox.request("worker", "/metrics")
    assert "opsbook_jobs_processed_total" in worker_metrics
    assert "opsbook_memory_limit_bytes" in worker_metrics


def test_prometheus_scrapes_api_and_worker(sandbox) -> None:
    def targets_up():
        _, body = sandbox.request("prometheus", "/api/v1/targets")
        health = {t["labels"]["job"]: t["health"] for t in body["data"]["activeTargets"]}
        return health if health.get("api") == "up" and health.get("worker") == "up" else None

    sandbox.wait_for("prometheus to scrape api and worker", targets_up, timeout=30)
    _, am = sandbox.request("alertmanager", "/api/v2/status")
    assert am["cluster"]["status"] in ("disabled", "ready")


def test_fault_switch_makes_api_requests_fail_and_clears(sandbox) -> None:
    job_url = f"/api/v1/jobs/{uuid.uuid4()}"
    try:
        code, fault = sandbox.request("proxy", "/admin/fault", method="POST",
                                      body={"error_rate": 1.0, "latency_seconds": 0})  # fmt: skip
        assert code == 200 and fault["error_rate"] == 1.0
        assert sandbox.request("proxy", job_url)[0] == 500
        assert sandbox.request("proxy", "/health/ready")[0] == 200  # probes are not affected
        metrics = sandbox.replica_get("api", "/metrics")
        assert any('route="/api/v1/jobs/{job_id}",status="500"' in m for _, m in metrics)
    finally:
        sandbox.request("proxy", "/admin/fault", method="DELETE")
    assert sandbox.request("proxy", "/admin/fault")[1]["error_rate"] == 0.0
    assert sandbox.request("proxy", job_url)[0] == 404


def test_migrations_downgrade_and_upgrade_from_the_api_container(sandbox) -> None:
    """Expand/contract: v2 runs on the schema before its migration too, so a database
    rollback under it is no outage, and jobs still complete (without their result, whose
    columns the downgrade drops)."""
    assert "0002 (head)" in sandbox.compose("exec", "-T", "api", "alembic", "current").stdout
    try:
        sandbox.compose("exec", "-T", "api", "alembic", "downgrade", "-1")
        assert "0001" in sandbox.compose("exec", "-T", "api", "alembic", "current").stdout
        code, body = sandbox.request("proxy", "/health/ready")
        assert code == 200, body
        code, job = sandbox.request("proxy", "/api/v1/jobs", method="POST",
                                    body={"kind": "echo", "payload": {"at": "0001"}})  # fmt: skip
        assert code == 202, job

        def completed():
            code, body = sandbox.request("proxy", f"/api/v1/jobs/{job['id']}")
            return code == 200 and body["status"] == "completed" and body

        done = sandbox.wait_for("a job to complete on schema 0001", completed, timeout=30)
        assert "result" not in done, done
    finally:
        sandbox.compose("exec", "-T", "api", "alembic", "upgrade", "head")
    sandbox.wait_for("ready after upgrade", lambda: _ready(sandbox), timeout=30)


def test_deploy_previous_release_then_the_broken_one_is_caught(sandbox) -> None:
    versions = sandbox.facts.deployment.versions
    deploy = ("up", "-d", "--wait", "api", "worker")
    try:
        sandbox.compose(*deploy, API_VERSION=versions.previous, timeout=180)
        assert sandbox.request("proxy", "/version")[1]["version"] == versions.previous
        assert _ready(sandbox)

        broken = sandbox.compose(*deploy, API_VERSION=versions.broken, timeout=180, check=False)
        assert broken.returncode != 0, "a deploy of the broken build must not report success"
        code, body = sandbox.request("proxy", "/health/ready")
        assert code == 503 and body["down"] == ["schema"], body
        assert sandbox.request("proxy", "/version")[1]["version"] == versions.broken
    finally:
        sandbox.compose(*deploy, API_VERSION=versions.current, timeout=180)
    assert sandbox.request("proxy", "/version")[1]["version"] == versions.current
    assert _ready(sandbox)


def test_the_fault_switch_reaches_every_replica_and_a_restart_clears_it(sandbox) -> None:
    job_url = f"/api/v1/jobs/{uuid.uuid4()}"
    replicas = sandbox.facts.service("api").replicas
    assert len(sandbox.replica_urls("api")) == replicas

    def codes() -> list[int]:
        return [status for status, _ in sandbox.replica_get("api", job_url)]

    try:
        code, state = sandbox.request("proxy", "/admin/fault", method="POST",
                                      body={"error_rate": 1.0, "memory_mb": 64})  # fmt: skip
        assert code == 200 and state["held"]["memory_mb"] == 64, state  # one replica holds it
        assert codes() == [500] * replicas  # set through one, in effect in all
        sandbox.compose("restart", "api")
        sandbox.wait_for("the api replicas back", lambda: codes() == [404] * replicas,
                         timeout=60, every=1)  # fmt: skip
        assert sandbox.request("proxy", "/admin/fault")[1]["error_rate"] == 0.0
    finally:
        sandbox.request("proxy", "/admin/fault", method="DELETE")
