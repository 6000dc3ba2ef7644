"""The worker: takes job ids from Redis, runs them, records status and result in PostgreSQL.

A job taken stays in the queue's processing list until its outcome is recorded
(opsbook_app/queue.py), so a worker stopped, killed or failing to record it loses nothing.

It serves /health/live and /metrics on its own port from a thread. Liveness means the
main loop has gone round recently, so a wedged worker is restarted, not just a dead one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from opsbook_app import config, deps
from opsbook_app.metrics import register_common
from opsbook_app.queue import MAX_ATTEMPTS, Queue

log = logging.getLogger("opsbook.worker")
RELEASE = config.release()
PROCESSED = Counter("opsbook_jobs_processed_total", "Jobs finished", ["status"])
register_common(RELEASE.version)

POP_TIMEOUT_SECONDS = 1
REAP_EVERY_SECONDS = 5
STALE_AFTER_SECONDS = 30
_last_tick = time.monotonic()
_stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/metrics":
            self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
        elif self.path == "/health/live":
            age = time.monotonic() - _last_tick
            ok = age < STALE_AFTER_SECONDS
            body = {"status": "ok" if ok else "stalled", "loop_age_seconds": round(age, 1)}
            self._send(200 if ok else 503, json.dumps(body).encode(), "application/json")
        else:
            self._send(404, b'{"detail": "not found"}', "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # probes every 2 s: keep quiet
        pass


class Interrupted(Exception):
    """The worker is stopping: the job in hand goes back to the queue, unfinished."""


def run_job(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The work itself. `sleep` lets drills build a backlog; `fail` exercises failure."""
    if kind == "sleep":
        seconds = min(float(payload.get("seconds", 1)), 30.0)
        if _stopping.wait(seconds):  # a deploy's SIGTERM: give the job back, do not wait
            raise Interrupted
        return {"slept": seconds}
    if kind == "fail":
        raise RuntimeError(payload.get("message", "job asked to fail"))
    return {"echo": payload}


def _record(
    job_id: str, kind: str, status: str, result: Any = None, error: str | None = None
) -> None:
    sets = "status = :status, updated_at = now()"
    params: dict[str, Any] = {"id": job_id, "status": status}
    # expand/contract: write the result only where the schema has its columns
    with_result = RELEASE.writes_result and deps.has_result_columns()
    if with_result and status in ("completed", "failed"):
        sets += ", result = CAST(:result AS jsonb), error = :error, finished_at = now()"
        params |= {"result": json.dumps(result), "error": error}
    with deps.engine().begin() as conn:
        conn.execute(text(f"UPDATE jobs SET {sets} WHERE id = :id"), params)
    cached = {
        "id": job_id,
        "kind": kind,
        "status": status,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    if with_result:
        cached |= {"result": result, "error": error}
    deps.cache().set(
        f"{config.CACHE_PREFIX}{job_id}", json.dumps(cached), ex=config.CACHE_TTL_SECONDS
    )


def process(q: Queue, job_id: str, attempts: int) -> None:
    """Run one job taken from the queue. It is acknowledged only once its outcome is in
    PostgreSQL; anything that stops us before that leaves it to be taken again."""
    with deps.engine().connect() as conn:
        row = conn.execute(
            text("SELECT kind, payload FROM jobs WHERE id = :id"), {"id": job_id}
        ).first()
    if row is None:
        log.warning("job %s not in the database; dropped", job_id)
        q.ack(job_id)
        return
    if attempts >= MAX_ATTEMPTS:  # it broke this worker every time it ran
        error = f"gave up after {MAX_ATTEMPTS} attempts: {q.last_error(job_id) or 'unknown'}"
        _record(job_id, row.kind, "failed", error=error)
        PROCESSED.labels("failed").inc()
        q.ack(job_id)
        log.error("job %s %s", job_id, error)
        return
    _record(job_id, row.kind, "running")
    try:
        result = run_job(row.kind, row.payload or {})
    except Interrupted:
        q.give_back(job_id)
        log.info("job %s given back: stopping", job_id)
        return
    except Exception as exc:
        log.info("job %s failed: %s", job_id, exc)
        _record(job_id, row.kind, "failed", error=str(exc))
        PROCESSED.labels("failed").inc()
        q.ack(job_id)
        return
    _record(job_id, row.kind, "completed", result=result)
    PROCESSED.labels("completed").inc()
    q.ack(job_id)
    log.info("job %s completed", job_id)


def _outage(exc: Exception) -> bool:
    """PostgreSQL or Redis unreachable: not the job's fault, so no attempt is spent."""
    return isinstance(exc, (OperationalError, redis.ConnectionError, redis.TimeoutError))


def main() -> None:
    global _last_tick
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    port = int(os.environ.get("WORKER_PORT", "9100"))
    server = ThreadingHTTPServer(("0.0.0.0", port), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: _stopping.set())
    log.info("worker %s listening on :%d, queue %s", RELEASE.version, port, config.QUEUE_KEY)
    q = Queue(deps.cache())
    next_reap = 0.0
    while not _stopping.is_set():
        _last_tick = time.monotonic()
        job_id = None
        try:
            if time.monotonic() >= next_reap:
                if requeued := q.reap():
                    log.warning("re-queued %d job(s) whose worker stopped holding them", requeued)
                next_reap = time.monotonic() + REAP_EVERY_SECONDS
            if taken := q.take(POP_TIMEOUT_SECONDS):
                job_id, attempts = taken
                process(q, job_id, attempts)
        except Exception as exc:  # Redis or PostgreSQL away, or a schema we cannot write
            log.error("%s: %s", type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
            deps.forget_columns()  # a migration may have run under us
            if job_id is not None:  # back at the head of the queue now; its lease would later
                with contextlib.suppress(Exception):
                    q.give_back(job_id, error=None if _outage(exc) else str(exc))
            _stopping.wait(2)
    server.shutdown()
    log.info("worker stopped")


if __name__ == "__main__":
    main()
