"""Load on the sandbox's HTTP API, target against target, in one run: what the reverse
proxy costs or gains. "direct" is one API replica's own port; "proxy" is the reverse proxy
in front of two replicas. Both are measured under the same load, their figures side by side.

    eval "$(opsbook sandbox env)"; python benchmarks/api_load.py --seconds 10 --rounds 2
    python benchmarks/api_load.py --target a=http://127.0.0.1:18000 --target b=http://127.0.0.1:18080

Each target is first asked GET /health/ready (200, or the run stops with exit 1); then one
job is created on it with POST /api/v1/jobs. Per round, --concurrency threads, each with
one keep-alive connection, send requests back to back for --seconds, mixed like real
clients: 4 of every 5 read that job (GET /api/v1/jobs/{id}), the 5th submits a new echo
job (POST /api/v1/jobs), so the sandbox's worker runs the jobs submitted. Rounds
interleave the targets (A, B, A, B, ...) with a 1 s pause between runs, so noise from the
machine falls on both alike. Defaults: direct=http://127.0.0.1:$API_PORT (the port
`docker compose ps api` shows for a replica, when it answers) and
proxy=http://127.0.0.1:$PROXY_PORT, 10 s per round (max 120), 8 threads (max 64),
2 rounds (max 10). Only http://127.0.0.1:PORT or http://localhost:PORT is accepted
(localhost is sent to 127.0.0.1): this only ever loads the local sandbox.

Per target: requests sent, req/s (2xx answers / seconds measured), p50/p95/p99 latency of
the 2xx answers, errors (answers that were not 2xx, by status) and failures (no answer:
refused, reset, timed out; by kind); then each target's req/s and p95 relative to the
first. Errors are figures, not a failed run: exit 0 when the run completed, 1 when a target
was not ready, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from opsbook.errors import OpsbookError
from opsbook.facts import load_facts
from opsbook.project import find_project
from opsbook.sandbox.lifecycle import published

PROG = "api_load.py"
LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = (LOOPBACK, "localhost")
TIMEOUT = 10.0  # seconds per request
READY_TIMEOUT = 5.0
PAUSE = 1.0  # seconds between runs, so one target's tail does not overlap the next
POST_EVERY = 5  # every 5th request of a thread is a submit: 80 % reads, 20 % writes
JOB_BODY = json.dumps({"kind": "echo", "payload": {"bench": "api-load"}}).encode()
JSON_HEADERS = {"content-type": "application/json"}
DEFAULT_TARGETS = (("direct", "API_PORT"), ("proxy", "PROXY_PORT"))
ENV_HINT = 'run: eval "$(opsbook sandbox env)"  (or pass --target NAME=URL)'


@dataclass
class Target:
    name: str
    url: str
    port: int


@dataclass
class Stats:
    requests: int = 0
    successes: int = 0
    errors: Counter[int] = field(default_factory=Counter)  # status -> count
    failures: Counter[str] = field(default_factory=Counter)  # exception name -> count
    latencies_ms: list[float] = field(default_factory=list)  # 2xx answers only
    seconds: float = 0.0

    def add(self, other: Stats) -> None:
        self.requests += other.requests
        self.successes += other.successes
        self.errors.update(other.errors)
        self.failures.update(other.failures)
        self.latencies_ms.extend(other.latencies_ms)
        self.seconds += other.seconds


class Refused(Exception):
    """A bad argument: one line to stderr, exit 2."""


class NotReady(Exception):
    """A target that cannot be measured: one line to stderr, exit 1."""


def bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}")
        return value

    return parse


def loopback_target(name: str, url: str) -> Target:
    """The target, or Refused unless `url` is exactly http://127.0.0.1:PORT (or localhost)."""
    if not name:
        raise Refused(f"--target {name}={url}: the name is empty")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        port, parts = None, None
    if (
        parts is None
        or parts.scheme != "http"
        or parts.hostname not in LOOPBACK_NAMES
        or parts.username is not None
        or port is None
        or not 0 < port < 65536
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise Refused(
            f"{name}: refusing {url!r}; only http://127.0.0.1:PORT or http://localhost:PORT "
            "(this benchmark only loads the local sandbox)"
        )
    return Target(name, f"http://{LOOPBACK}:{port}", port)


def published_replica_port() -> str | None:
    """The host port one running api replica really has: a rollout's replicas take free
    ports of the range, so the range's first port may be nobody's."""
    try:
        project = find_project()
        where = published(project, load_facts(project.facts_dir), "api")
    except OpsbookError:  # no project here, or no engine: fall back to $API_PORT
        return None
    return where.rpartition(":")[2] if where else None


def targets_from(specs: list[str] | None, env: Mapping[str, str]) -> list[Target]:
    if not specs:
        specs = []
        for name, var in DEFAULT_TARGETS:
            value = env.get(var, "").strip()
            if var == "API_PORT" and value:
                value = published_replica_port() or value
            if not value:
                raise Refused(f"{var} is not set (the {name} target's port); {ENV_HINT}")
            if not value.isdigit():
                raise Refused(f"{var}={value!r} is not a port number; {ENV_HINT}")
            specs.append(f"{name}=http://{LOOPBACK}:{value}")
    targets: list[Target] = []
    for spec in specs:
        name, sep, url = spec.partition("=")
        if not sep:
            raise Refused(f"--target {spec!r}: expected NAME=URL")
        if any(t.name == name.strip() for t in targets):
            raise Refused(f"--target {spec!r}: the name {name.strip()!r} is given twice")
        targets.append(loopback_target(name.strip(), url.strip()))
    return targets


def exchange(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes]:
    """One request on `conn`, its answer read to the end so the connection can be reused."""
    conn.request(method, path, body=body, headers=JSON_HEADERS if body is not None else {})
    resp = conn.getresponse()
    return resp.status, resp.read()


def prepare(target: Target) -> str:
    """Check the target is ready and create the job to read; the job's path."""
    conn = http.client.HTTPConnection(LOOPBACK, target.port, timeout=READY_TIMEOUT)
    step = "GET /health/ready"
    try:
        status, _ = exchange(conn, "GET", "/health/ready")
        if status != 200:
            raise NotReady(f"{target.name} ({target.url}) is not ready: {step} answered {status}")
        step = "POST /api/v1/jobs"
        status, raw = exchange(conn, "POST", "/api/v1/jobs", JOB_BODY)
        try:
            job_id = json.loads(raw).get("id") if 200 <= status < 300 else None
        except (ValueError, AttributeError):
            job_id = None
        if not job_id:
            raise NotReady(
                f"{target.name} ({target.url}) did not create the job to read: "
                f"POST /api/v1/jobs answered {status} {raw[:120]!r}"
            )
        return f"/api/v1/jobs/{urllib.parse.quote(str(job_id), safe='')}"
    except (OSError, http.client.HTTPException) as exc:
        raise NotReady(
            f"{target.name} ({target.url}) is not ready: {step}: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        conn.close()


def worker(target: Target, job_path: str, deadline: float) -> Stats:
    stats = Stats()
    conn = http.client.HTTPConnection(LOOPBACK, target.port, timeout=TIMEOUT)
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            post = n % POST_EVERY == 0
            stats.requests += 1
            start = time.perf_counter()
            try:
                if post:
                    status, _ = exchange(conn, "POST", "/api/v1/jobs", JOB_BODY)
                else:
                    status, _ = exchange(conn, "GET", job_path)
            except (OSError, http.client.HTTPException) as exc:
                stats.failures[type(exc).__name__] += 1
                conn.close()  # the next request opens a fresh connection
                continue
            elapsed_ms = (time.perf_counter() - start) * 1000
            if 200 <= status < 300:
                stats.successes += 1
                stats.latencies_ms.append(elapsed_ms)
            else:
                stats.errors[status] += 1
    finally:
        conn.close()
    return stats


def run_round(target: Target, job_path: str, seconds: int, concurrency: int) -> Stats:
    start = time.monotonic()
    deadline = start + seconds
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(worker, target, job_path, deadline) for _ in range(concurrency)]
        parts = [f.result() for f in futures]
    total = Stats()
    for part in parts:
        total.add(part)
    # measured to the last answer, so requests still in flight at the deadline count fairly
    total.seconds = time.monotonic() - start
    return total


def percentiles(latencies: list[float]) -> tuple[float | None, float | None, float | None]:
    if not latencies:
        return None, None, None
    if len(latencies) == 1:
        return latencies[0], latencies[0], latencies[0]
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def figures(target: Target, stats: Stats) -> dict:
    p50, p95, p99 = percentiles(stats.latencies_ms)

    def ms(x: float | None) -> float | None:
        return None if x is None else round(x, 2)

    return {
        "url": target.url,
        "requests": stats.requests,
        "successes": stats.successes,
        "seconds": round(stats.seconds, 2),
        "rps": round(stats.successes / stats.seconds, 1) if stats.seconds else 0.0,
        "p50_ms": ms(p50),
        "p95_ms": ms(p95),
        "p99_ms": ms(p99),
        "errors": sum(stats.errors.values()),
        "error_statuses": {str(k): v for k, v in sorted(stats.errors.items())},
        "failures": sum(stats.failures.values()),
        "failure_kinds": dict(sorted(stats.failures.items())),
    }


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return round(value / base, 2)


def table(results: dict[str, dict], settings: dict) -> str:
    def num(x: float | None, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    w = max(12, *(len(name) for name in results))
    lines = [
        f"{settings['rounds']} rounds x {settings['seconds']} s x {settings['concurrency']} "
        f"threads per target; 80 % GET job, 20 % POST job",
        f"{'target':<{w}} {'url':<24} {'requests':>9} {'req/s':>9} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'p99 ms':>8} {'errors':>7} {'failures':>8}",
    ]
    for name, f in results.items():
        lines.append(
            f"{name:<{w}} {f['url']:<24} {f['requests']:>9} {f['rps']:>9.1f} "
            f"{num(f['p50_ms'], '.2f'):>8} {num(f['p95_ms'], '.2f'):>8} "
            f"{num(f['p99_ms'], '.2f'):>8} {f['errors']:>7} {f['failures']:>8}"
        )
    for name, f in results.items():
        if f["errors"] or f["failures"]:
            statuses = ", ".join(f"{k} x{v}" for k, v in f["error_statuses"].items()) or "none"
            kinds = ", ".join(f"{k} x{v}" for k, v in f["failure_kinds"].items()) or "none"
            lines.append(f"  {name}: errors {statuses}; failures {kinds}")
    first = next(iter(results))
    rel = "; ".join(
        f"{name} req/s x{num(f['relative']['rps'], '.2f')}, p95 x{num(f['relative']['p95'], '.2f')}"
        for name, f in results.items()
    )
    lines.append(f"relative to {first}: {rel}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--target",
        action="append",
        metavar="NAME=URL",
        help="a target to load, repeatable; URL is http://127.0.0.1:PORT "
        "(default: direct=$API_PORT, proxy=$PROXY_PORT)",
    )
    ap.add_argument(
        "--seconds",
        type=bounded(1, 120),
        default=10,
        metavar="S",
        help="per round and target (default 10)",
    )
    ap.add_argument(
        "--concurrency",
        type=bounded(1, 64),
        default=8,
        metavar="N",
        help="client threads (default 8)",
    )
    ap.add_argument(
        "--rounds", type=bounded(1, 10), default=2, metavar="N", help="rounds (default 2)"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object, no table")
    args = ap.parse_args(argv)

    try:
        targets = targets_from(args.target, os.environ)
    except Refused as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        jobs = {t.name: prepare(t) for t in targets}
    except NotReady as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1

    totals = {t.name: Stats() for t in targets}
    runs = [(i, t) for i in range(1, args.rounds + 1) for t in targets]
    for k, (i, t) in enumerate(runs):
        if k:
            time.sleep(PAUSE)
        print(
            f"round {i}/{args.rounds} {t.name} ({t.url}) ...", end="", file=sys.stderr, flush=True
        )
        stats = run_round(t, jobs[t.name], args.seconds, args.concurrency)
        totals[t.name].add(stats)
        print(
            f" {stats.requests} requests, {stats.successes / stats.seconds:.1f} req/s, "
            f"{sum(stats.errors.values())} errors, {sum(stats.failures.values())} failures",
            file=sys.stderr,
        )

    results = {t.name: figures(t, totals[t.name]) for t in targets}
    base = results[targets[0].name]
    for f in results.values():
        f["relative"] = {
            "rps": ratio(f["rps"], base["rps"]),
            "p95": ratio(f["p95_ms"], base["p95_ms"]),
        }
    settings = {
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "pause_seconds": PAUSE,
        "request_timeout_seconds": TIMEOUT,
        "mix": {"get_job": 0.8, "post_job": 0.2},
        "baseline": targets[0].name,
    }
    if args.json:
        print(json.dumps({"settings": settings, "targets": results}, indent=2))
    else:
        print(table(results, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
