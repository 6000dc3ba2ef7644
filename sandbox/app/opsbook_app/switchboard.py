"""One fault switch for every api replica, kept in Redis.

The api runs as several replicas behind the proxy, so a drill's `POST /admin/fault`
reaches one of them. The switch therefore lives in Redis: each replica syncs it into its
own Injector every SYNC_SECONDS and reports what it holds (a heartbeat in a hash), and the
replica that took the request answers only once every live replica has applied it, so a
drill sees the fault everywhere the moment its POST returns.

What a switch asks of the request path (error_rate, latency_seconds, cache_bypass) every
replica does. What it holds (memory_mb, cpu_busy, db_connections) one replica does, the
one holding OWNER_KEY: a single busy core or 480 MiB is what the alerts watch (`max by
job`), and twice that would starve a small machine or exhaust PostgreSQL.

A fault lives in the processes that were running when it was set, as a real leak or a
bad code path does: a replica started later (a restart, a rollout) ignores it, so the
runbooks' mitigation, restarting the api, clears it for real. `GET /admin/fault` shows the
switch only while some live replica still applies it.

Without Redis (the redis-down drill) each replica keeps what it last applied, and
`GET /admin/fault` answers for itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from opsbook_app.faults import Fault, Injector, to_hold

log = logging.getLogger("opsbook.api")

SWITCH_KEY = "opsbook:fault:switch"
REPLICAS_KEY = "opsbook:fault:replicas"  # replica -> {"at", "started", "switch", "state"}
OWNER_KEY = "opsbook:fault:owner"
SYNC_SECONDS = 0.25
STALE_SECONDS = 3.0  # a replica not heard from for this long is gone (or stopped)
OWNER_TTL_MS = 3000
CONVERGE_SECONDS = 15.0  # how long a POST waits for every replica to apply the switch


def _without_resources(fault: Fault) -> Fault:
    return fault.model_copy(update={"memory_mb": 0, "cpu_busy": False, "db_connections": 0})


def _parse(raw: str) -> tuple[Fault, float]:
    """The switch as stored, and when it was set (epoch seconds); none is 0."""
    if not raw:
        return Fault(), 0.0
    stored = json.loads(raw)
    return Fault.model_validate(stored["fault"]), float(stored["set_at"])


def _holds_resources(fault: Fault) -> bool:
    return any(to_hold(fault).values())


class Switchboard:
    def __init__(self, injector: Injector, client: Callable[[], redis.Redis]) -> None:
        self.injector = injector
        self.client = client
        self.replica = socket.gethostname()
        self.started = time.time()
        self._lock = threading.Lock()  # one sync at a time: the thread and a request
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._redis_ok = True

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="fault-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(redis.RedisError):  # the entry goes stale anyway
            self.client().hdel(REPLICAS_KEY, self.replica)

    def _loop(self) -> None:
        while not self._stop.wait(SYNC_SECONDS):
            try:
                self.sync()
            except redis.RedisError as exc:
                if self._redis_ok:
                    log.warning("fault switch: Redis unreachable, keeping the last one: %s", exc)
                self._redis_ok = False
            else:
                self._redis_ok = True

    # --- one sync -------------------------------------------------------------------------

    def sync(self) -> str:
        """Apply the switch in Redis here and report it; returns the switch as stored."""
        r = self.client()
        with self._lock:
            stored = raw = r.get(SWITCH_KEY) or ""
            fault, set_at = _parse(raw)
            if set_at < self.started:  # set before this process: not its fault
                raw, fault = "", Fault()
            wanted = fault
            if _holds_resources(fault):
                mine = r.set(OWNER_KEY, self.replica, nx=True, px=OWNER_TTL_MS)
                if mine or r.get(OWNER_KEY) == self.replica:
                    r.pexpire(OWNER_KEY, OWNER_TTL_MS)
                else:
                    wanted = _without_resources(fault)
            if wanted != self.injector.fault:
                self.injector.apply(wanted)
            state = self.injector.state()
            report = {"at": time.time(), "started": self.started, "switch": raw, "state": state}
            r.hset(REPLICAS_KEY, self.replica, json.dumps(report))
        return stored

    # --- the API's view -------------------------------------------------------------------

    def set(self, fault: Fault) -> dict[str, Any]:
        """Store the switch, wait until every live replica holds it, answer for them all.
        Without Redis, this replica alone."""
        raw = ""
        if fault != Fault():
            raw = json.dumps({"set_at": time.time(), "fault": fault.model_dump()})
        try:
            r = self.client()
            r.set(SWITCH_KEY, raw) if raw else r.delete(SWITCH_KEY)
            self.sync()
            deadline = time.monotonic() + CONVERGE_SECONDS
            while True:
                state, converged = self._combined(raw)
                if converged or time.monotonic() > deadline:
                    if not converged:
                        state.setdefault("errors", []).append(
                            f"not every replica applied the switch in {CONVERGE_SECONDS:.0f} s"
                        )
                    return state
                time.sleep(SYNC_SECONDS / 2)
        except redis.RedisError as exc:
            state = self.injector.apply(fault)
            state.setdefault("errors", []).append(f"Redis unreachable, this replica only: {exc}")
            return state

    def state(self) -> dict[str, Any]:
        try:
            return self._combined(self.sync())[0]
        except redis.RedisError:
            return self.injector.state()

    def _combined(self, raw: str) -> tuple[dict[str, Any], bool]:
        """The switch (while a live replica applies it) with what all live replicas
        hold, and whether every replica older than the switch applied it and the owner
        holds what was asked (or says why not)."""
        now = time.time()
        reports = [json.loads(v) for v in self.client().hgetall(REPLICAS_KEY).values()]
        live = [rep for rep in reports if now - rep["at"] < STALE_SECONDS]
        fault, set_at = _parse(raw)
        if not any(rep["switch"] == raw for rep in live):
            fault = Fault()
        held = {key: sum(rep["state"]["held"][key] for rep in live) for key in to_hold(fault)}
        errors = sorted({e for rep in live for e in rep["state"].get("errors", [])})
        state: dict[str, Any] = {**fault.model_dump(), "held": held}
        if errors:
            state["errors"] = errors
        # a clear must reach every replica; a fault, those running when it was set
        applied = all(rep["switch"] == raw for rep in live if not raw or rep["started"] <= set_at)
        holds = held == to_hold(fault)
        return state, applied and (holds or bool(errors))
