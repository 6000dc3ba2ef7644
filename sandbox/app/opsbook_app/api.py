"""The HTTP API: health, metrics, version, the jobs API, feature flags, and a fault switch
for drills."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from starlette.routing import Match

from opsbook_app import config, deps, draining, flags
from opsbook_app.faults import Fault, Injector
from opsbook_app.metrics import register_common
from opsbook_app.switchboard import Switchboard

log = logging.getLogger("opsbook.api")
RELEASE = config.release()

# Each replica applies the fault switch in its own process (faults.py); the switch itself
# is shared by all replicas through Redis (switchboard.py).
FAULTS = Injector()
SWITCH = Switchboard(FAULTS, deps.cache)
ALERTS_KEY = "opsbook:alerts"  # the receiver's inbox, in Redis so every replica shows it
ALERTS_KEPT = 100


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    SWITCH.start()
    yield
    SWITCH.stop()


app = FastAPI(title="opsbook api", version=RELEASE.version, lifespan=lifespan)

REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16),
)
CACHE = Counter("opsbook_cache_requests_total", "Job status reads by cache result", ["result"])
for _result in ("hit", "miss"):  # both series from the start, so rate() sees the first ones
    CACHE.labels(_result)
register_common(RELEASE.version)


def _queue_depth() -> float:
    try:
        return float(deps.cache().llen(config.QUEUE_KEY))
    except Exception:  # a scrape must not fail because Redis is down; NaN says "unknown"
        return float("nan")


def _db_connections() -> float:
    try:
        return float(deps.db_connections())
    except Exception:
        return float("nan")


Gauge("opsbook_queue_depth", "Jobs waiting in Redis").set_function(_queue_depth)
Gauge("opsbook_db_connections", "Connections to the opsbook database").set_function(_db_connections)

# Probes and scrapes are not user traffic: counting them would dilute the error rate.
_UNCOUNTED = ("/metrics", "/health/")


def _route_of(request: Request) -> str:
    """The route template (/api/v1/jobs/{job_id}), so metric labels stay few."""
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return getattr(route, "path", "unmatched")
    return "unmatched"


@app.middleware("http")
async def instrument(request: Request, call_next):
    path = request.url.path
    route = _route_of(request)
    start = time.perf_counter()
    fault = FAULTS.fault
    if path.startswith("/api/v1/") and fault.latency_seconds:
        await asyncio.sleep(fault.latency_seconds)  # inside the timed span: the histogram sees it
    if path.startswith("/api/v1/") and random.random() < fault.error_rate:
        response: Response = JSONResponse({"error": "injected fault (POST /admin/fault)"}, 500)
    else:
        response = await call_next(request)
    if not path.startswith(_UNCOUNTED):
        REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        LATENCY.labels(route, request.method).observe(time.perf_counter() - start)
    return response


# --- health -----------------------------------------------------------------------------


@app.get("/health/live")
def live() -> dict[str, str]:
    """The process is up and serving; says nothing about dependencies."""
    return {"status": "ok", "version": RELEASE.version}


def _check_postgres() -> str | None:
    try:
        with deps.engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"postgres: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def _check_redis() -> str | None:
    try:
        deps.cache().ping()
    except Exception as exc:
        return f"redis: {type(exc).__name__}: {exc}"
    return None


def _check_schema() -> str | None:
    try:
        current = deps.schema_revision()
    except Exception:
        return None  # postgres is down; that check already says so
    if current is None or current < RELEASE.schema:
        at = current or "no revision"
        return f"schema: database at {at}, {RELEASE.version} needs {RELEASE.schema}"
    return None


@app.get("/health/ready")
def ready() -> JSONResponse:
    """200 only when PostgreSQL, Redis and the schema all serve this build, and the
    process is not shutting down (draining.py: the proxy stops sending first)."""
    if draining.DRAINING.is_set():
        return JSONResponse({"status": "draining"}, status_code=503)
    problems = {
        name: problem
        for name, check in (("postgres", _check_postgres), ("redis", _check_redis))
        if (problem := check())
    }
    if "postgres" not in problems and (schema := _check_schema()):
        problems["schema"] = schema
    checks = {name: problems.get(name, "ok") for name in ("postgres", "redis", "schema")}
    if problems:
        body = {"status": "unavailable", "down": sorted(problems), "checks": checks}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", "checks": checks})


@app.get("/health/db")
def health_db() -> JSONResponse:
    """Database round trip, revision and connection count, for the database runbooks."""
    start = time.perf_counter()
    try:
        revision = deps.schema_revision()
        connections = deps.db_connections()
    except Exception as exc:
        return JSONResponse({"status": "down", "error": str(exc).splitlines()[0]}, 503)
    return JSONResponse(
        {
            "status": "ok",
            "revision": revision,
            "required_revision": RELEASE.schema,
            "connections": connections,
            "latency_ms": round((time.perf_counter() - start) * 1000, 1),
        }
    )


@app.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@app.get("/version")
def version() -> dict[str, str]:
    return {"version": RELEASE.version, "schema": RELEASE.schema}


# --- jobs -------------------------------------------------------------------------------


class JobRequest(BaseModel):
    kind: str = Field("echo", pattern="^(echo|sleep|fail)$")
    payload: dict[str, Any] = Field(default_factory=dict)


def _job_columns() -> str:
    """The jobs columns this build reads: the results only where the schema has them
    (expand/contract, deps.has_result_columns)."""
    columns = "id, kind, status, created_at, updated_at"
    if RELEASE.writes_result and deps.has_result_columns():
        columns += ", result, error"
    return columns


def _job_json(row: Any) -> dict[str, Any]:
    job = {
        "id": str(row.id),
        "kind": row.kind,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
    if "result" in row._fields:
        job["result"] = row.result
        job["error"] = row.error
    return job


def _queue_jobs(kind: str, payload: dict[str, Any], count: int = 1) -> tuple[list[str], int]:
    """Record `count` jobs as queued in one transaction, then hand their ids to the worker
    through Redis in one pipeline. Returns the ids and the queue length after the push."""
    ids = [uuid.uuid4() for _ in range(count)]
    params = json.dumps(payload)
    with deps.engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (id, kind, payload, status) "
                "VALUES (:id, :kind, CAST(:payload AS jsonb), 'queued')"
            ),
            [{"id": job_id, "kind": kind, "payload": params} for job_id in ids],
        )
    pipe = deps.cache().pipeline()
    for job_id in ids:
        queued = {"id": str(job_id), "kind": kind, "status": "queued"}
        pipe.set(f"{config.CACHE_PREFIX}{job_id}", json.dumps(queued), ex=config.CACHE_TTL_SECONDS)
    pipe.lpush(config.QUEUE_KEY, *(str(job_id) for job_id in ids))
    depth = pipe.execute()[-1]
    return [str(job_id) for job_id in ids], int(depth)


@app.post("/api/v1/jobs", status_code=202)
def create_job(job: JobRequest) -> dict[str, Any]:
    """Record the job as queued, then hand its id to the worker through Redis; 503 while
    the feature flag `job-submissions` is off (flags.py)."""
    if not flags.enabled(deps.cache(), "job-submissions"):
        raise HTTPException(
            503,
            "job submissions are switched off (feature flag job-submissions); retry later",
            headers={"Retry-After": str(flags.RETRY_AFTER_SECONDS)},
        )
    (job_id,), _ = _queue_jobs(job.kind, job.payload)
    return {"id": job_id, "kind": job.kind, "status": "queued"}


@app.get("/api/v1/jobs")
def recent_jobs(limit: int = Query(20, ge=1, le=100)) -> list[dict[str, Any]]:
    """The most recent jobs, newest first, from PostgreSQL (what a dashboard polls)."""
    columns = _job_columns()  # before connecting: it may look the schema up
    with deps.engine().connect() as conn:
        rows = conn.execute(
            text(f"SELECT {columns} FROM jobs ORDER BY created_at DESC LIMIT :limit"),
            {"limit": limit},
        ).all()
    return [_job_json(row) for row in rows]


@app.get("/api/v1/jobs/{job_id}")
def get_job(job_id: uuid.UUID) -> dict[str, Any]:
    """Status from the Redis cache the worker writes through; PostgreSQL on a miss."""
    key = f"{config.CACHE_PREFIX}{job_id}"
    bypass = FAULTS.fault.cache_bypass  # drill: every read misses, PostgreSQL answers
    try:
        cached = None if bypass else deps.cache().get(key)
    except Exception:
        cached = None
    if cached:
        CACHE.labels("hit").inc()
        return json.loads(cached)
    CACHE.labels("miss").inc()
    columns = _job_columns()  # before connecting: it may look the schema up
    with deps.engine().connect() as conn:
        row = conn.execute(
            text(f"SELECT {columns} FROM jobs WHERE id = :id"), {"id": job_id}
        ).first()
    if row is None:
        raise HTTPException(404, f"no job {job_id}")
    job = _job_json(row)
    if job["status"] in ("completed", "failed") and not bypass:
        try:
            deps.cache().set(key, json.dumps(job), ex=config.CACHE_TTL_SECONDS)
        except Exception:
            log.warning("could not cache job %s", job_id)
    return job


# --- feature flags ----------------------------------------------------------------------


class FeatureSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


@app.get("/admin/features")
def get_features() -> dict[str, bool]:
    """Every feature flag and whether it is on (flags.py)."""
    return flags.states(deps.cache())


@app.put("/admin/features/{name}")
def put_feature(name: str, switch: FeatureSwitch) -> dict[str, bool]:
    """Switch a feature on or off for every replica at once; it stays so until switched
    back, across restarts and deploys."""
    try:
        flags.set_enabled(deps.cache(), name, switch.enabled)
    except flags.UnknownFeature as exc:
        raise HTTPException(404, str(exc)) from None
    log.warning("feature %s switched %s", name, "on" if switch.enabled else "off")
    return flags.states(deps.cache())


@app.delete("/admin/features")
def reset_features() -> dict[str, bool]:
    """Every feature back on."""
    flags.reset(deps.cache())
    log.warning("every feature switched back on")
    return flags.states(deps.cache())


# --- drills -----------------------------------------------------------------------------


@app.get("/admin/fault")
def get_fault() -> dict[str, Any]:
    """The switch as set, and what all replicas hold right now (`held`)."""
    return SWITCH.state()


@app.post("/admin/fault")
def set_fault(fault: Fault) -> dict[str, Any]:
    """Set the fault switch for alert drills (faults.py); a field left out is normal."""
    log.warning("fault injection set: %s", fault.model_dump())
    state = SWITCH.set(fault)
    log.warning("fault injection holds: %s", state["held"])
    return state


@app.delete("/admin/fault")
def clear_fault() -> dict[str, Any]:
    state = SWITCH.set(Fault())
    log.warning("fault injection cleared; holds: %s", state["held"])
    return state


class Enqueue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(..., ge=1, le=5000)
    kind: str = Field("echo", pattern="^(echo|sleep|fail)$")
    payload: dict[str, Any] = Field(default_factory=dict)


@app.post("/admin/enqueue", status_code=202)
def enqueue(req: Enqueue) -> dict[str, Any]:
    """Queue `count` real jobs at once (as POST /api/v1/jobs does, pipelined), for backlog
    drills: with the worker stopped, opsbook_queue_depth climbs; started, it drains them."""
    ids, depth = _queue_jobs(req.kind, req.payload, req.count)
    log.warning("drill enqueued %d %s jobs; queue depth %d", len(ids), req.kind, depth)
    return {
        "enqueued": len(ids),
        "kind": req.kind,
        "queue_depth": depth,
        "first": ids[0],
        "last": ids[-1],
    }


@app.post("/admin/alerts")
def receive_alerts(notification: dict[str, Any]) -> dict[str, int]:
    """Alertmanager's webhook lands here, so drills can see the page that was sent."""
    r = deps.cache()
    r.lpush(ALERTS_KEY, json.dumps({"received_at": time.time(), **notification}))
    r.ltrim(ALERTS_KEY, 0, ALERTS_KEPT - 1)
    return {"stored": r.llen(ALERTS_KEY)}


@app.get("/admin/alerts")
def list_alerts() -> list[dict[str, Any]]:
    """Every notification received, oldest first."""
    return [json.loads(n) for n in reversed(deps.cache().lrange(ALERTS_KEY, 0, -1))]
