"""The api's fault switch: each field produces, for real, what one generated alert watches.

`POST /admin/fault` sets the whole switch (a field left out goes back to normal) and
`DELETE /admin/fault` clears it. Every switch is bounded by the model, and everything it
holds lives in the api process and is given back on clear:

| field             | what it does                                   | alert it drives   |
| ----------------- | ---------------------------------------------- | ----------------- |
| error_rate        | that share of /api/v1/* answered 500           | error_rate        |
| latency_seconds   | added to every /api/v1/* request (histogram)   | latency_p95, p99  |
| memory_mb         | MiB held with every page written (RSS grows)   | memory            |
| cpu_busy          | one thread keeps one core busy in this process | cpu               |
| db_connections    | extra idle PostgreSQL connections held open    | db_connections    |
| cache_bypass      | job-status reads skip Redis (counted as miss)  | cache_hit_rate    |

The queue backlog is not a switch: `POST /admin/enqueue` adds real jobs, and a stopped
worker lets them pile up. One uvicorn process per container, so process state is the
right scope.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import make_url

from opsbook_app import config

log = logging.getLogger("opsbook.api")

MIB = 1 << 20
# PostgreSQL allows 100 connections, 3 of them reserved for superusers, so the app's role
# has 97. Critical is "more than 90"; the api's own pool and the worker hold a few more,
# so 90 extra always crosses it and still leaves the pool a handful.
MAX_DB_CONNECTIONS = 90
APPLICATION_NAME = "opsbook-fault-drill"  # how the held connections show in pg_stat_activity


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt switch must not silently do nothing

    error_rate: float = Field(0.0, ge=0.0, le=1.0)
    latency_seconds: float = Field(0.0, ge=0.0, le=30.0)
    memory_mb: int = Field(0, ge=0, le=1024)
    cpu_busy: bool = False
    db_connections: int = Field(0, ge=0, le=MAX_DB_CONNECTIONS)
    cache_bypass: bool = False


def to_hold(fault: Fault) -> dict[str, int]:
    """What the switch asks a process to hold, keyed and counted as `held` reports it."""
    return {
        "memory_mb": fault.memory_mb,
        "cpu_threads": int(fault.cpu_busy),
        "db_connections": fault.db_connections,
    }


def _touched(mb: int) -> mmap.mmap:
    """`mb` MiB of anonymous memory with every page written, so it is resident (RSS).
    An mmap of its own, not a bytearray from malloc, so closing it returns every page to
    the kernel at once instead of leaving it in the allocator's heap."""
    block = mmap.mmap(-1, mb * MIB)
    chunk = b"\x5a" * MIB
    for i in range(mb):
        block[i * MIB : (i + 1) * MIB] = chunk
    return block


def _burn(stop: threading.Event) -> None:
    """Keep one core busy inside this process. hashlib drops the GIL while it hashes a
    large buffer, so the time is spent in C, the event loop keeps serving, and it is
    counted in this process's process_cpu_seconds_total (a child process's is not)."""
    block = b"\x5a" * MIB
    while not stop.is_set():
        hashlib.sha256(block).digest()


def _dsn() -> str:
    return (
        make_url(config.database_url())
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


class Injector:
    """Holds what the switch asks for; `apply` converges to a new Fault, under a lock."""

    def __init__(self) -> None:
        self.fault = Fault()
        self._lock = threading.Lock()
        self._memory: mmap.mmap | None = None
        self._cpu_stop: threading.Event | None = None
        self._cpu_thread: threading.Thread | None = None
        self._connections: list[psycopg.Connection[Any]] = []
        self._errors: list[str] = []

    def apply(self, fault: Fault) -> dict[str, Any]:
        with self._lock:
            self._errors = []
            self._set_memory(fault.memory_mb)
            self._set_cpu(fault.cpu_busy)
            self._set_connections(fault.db_connections)
            self.fault = fault
            return self._state()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return self._state()

    def _state(self) -> dict[str, Any]:
        held = {
            "memory_mb": len(self._memory) // MIB if self._memory is not None else 0,
            "cpu_threads": int(self._cpu_thread is not None and self._cpu_thread.is_alive()),
            "db_connections": len(self._connections),
        }
        state: dict[str, Any] = {**self.fault.model_dump(), "held": held}
        if self._errors:
            state["errors"] = list(self._errors)
        return state

    def _set_memory(self, mb: int) -> None:
        if self._memory is not None and len(self._memory) == mb * MIB:
            return
        if self._memory is not None:
            self._memory.close()
            self._memory = None
        if mb:
            self._memory = _touched(mb)

    def _set_cpu(self, busy: bool) -> None:
        if busy and self._cpu_thread is None:
            self._cpu_stop = threading.Event()
            self._cpu_thread = threading.Thread(
                target=_burn, args=(self._cpu_stop,), name="fault-cpu", daemon=True
            )
            self._cpu_thread.start()
        elif not busy and self._cpu_thread is not None:
            assert self._cpu_stop is not None
            self._cpu_stop.set()
            self._cpu_thread.join(timeout=5)
            self._cpu_thread = self._cpu_stop = None

    def _set_connections(self, count: int) -> None:
        while len(self._connections) > count:
            self._connections.pop().close()
        missing = count - len(self._connections)
        if missing <= 0:
            return
        dsn = _dsn()

        def connect(_: int) -> psycopg.Connection[Any] | Exception:
            try:
                return psycopg.connect(
                    dsn, connect_timeout=2, autocommit=True, application_name=APPLICATION_NAME
                )
            except Exception as exc:  # PostgreSQL full or away: hold what we got, say so
                return exc

        with ThreadPoolExecutor(max_workers=10, thread_name_prefix="fault-db") as pool:
            for opened in pool.map(connect, range(missing)):
                if isinstance(opened, Exception):
                    first = str(opened).splitlines()[0] if str(opened) else ""
                    self._errors.append(f"db_connections: {type(opened).__name__}: {first}")
                else:
                    self._connections.append(opened)
        if self._errors:
            log.warning(
                "fault injection holds %d of %d db connections: %s",
                len(self._connections),
                count,
                self._errors[0],
            )
            self._errors = sorted(set(self._errors))
