#!/usr/bin/env python3
"""The share of API requests the proxy sends to the next release (the `api-next` pool),
and whether that release earns more of it: the steps of a canary and the switch of a
blue-green release.

    share.py show                          the share now, and each pool's ready replicas
    share.py set PERCENT [--wait 60]       send PERCENT (0-100) of requests to api-next
    share.py check [--window 30] ...       api-next's requests, errors and p95 from
                                           Prometheus, against the limits; exit 1 if over

`set` first waits until every pool that will get requests has a ready replica (api-next
when PERCENT > 0, api when PERCENT < 100) and leaves the share as it was if one has none
after --wait: a step never sends requests to a pool that cannot answer them. The proxy
keeps the share in memory (proxy/share.map holds 0): a proxy restart resets it to 0.

`check` reads Prometheus (--prometheus, default $PROM_URL) over the last --window
seconds: how many requests api-next answered and what share of all that is, how many it
answered 5xx, and its p95 latency. It fails when api-next answered fewer than
--min-requests, or its error rate or p95 is over the limit.

Reads the same environment as `docker compose` (`eval "$(opsbook sandbox env)"`): it
talks to the proxy's runtime socket through `docker compose exec`. Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from dockercli import ToolError, docker  # beside this file

MAP = "/usr/local/etc/haproxy/share.map"  # as haproxy.cfg names it
SOCKET = "/run/haproxy/admin.sock"
POOLS = {"api": "api", "api-next": "api_next"}  # Compose service -> proxy backend
COMMAND_TIMEOUT = 30.0  # seconds for one runtime command through docker compose exec
QUERY_TIMEOUT = 10.0  # seconds for one Prometheus query


class ShareError(ToolError):
    pass


def runtime(commands: str) -> str:
    """Commands (`;` between them) on the proxy's runtime socket; the answers, each one
    ended by an empty line."""
    args = ("compose", "exec", "-T", "proxy", "socat", "stdio", SOCKET)
    try:
        return docker(*args, stdin=commands + "\n", timeout=COMMAND_TIMEOUT)
    except ToolError as exc:
        raise ShareError(f"could not reach the proxy's runtime socket: {exc}") from None


def share_in(show_map: str) -> int:
    """The share from `show map`'s answer: one `0xADDRESS key value` line per entry."""
    for line in show_map.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "next" and parts[2].isdigit():
            return int(parts[2])
    raise ShareError(f"the proxy's map {MAP} has no `next` entry")


def snapshot() -> tuple[int, dict[str, tuple[int, int]]]:
    """The share and each pool's replicas, from one call on the socket."""
    show_map, _, show_stat = runtime(f"show map {MAP}; show stat").partition("\n\n")
    return share_in(show_map), pools_in(show_stat)


def pools_in(show_stat: str) -> dict[str, tuple[int, int]]:
    """Pool -> (replicas the proxy sends requests to, replicas it knows of), from `show
    stat`'s CSV. A slot in maintenance for want of a DNS answer is no replica at all."""
    rows = csv.DictReader(show_stat.lstrip("# ").splitlines())
    counts = {pool: [0, 0] for pool in POOLS}
    backends = {b: p for p, b in POOLS.items()}
    for row in rows:
        pool = backends.get(row.get("pxname", ""))
        if pool is None or row["svname"] in ("FRONTEND", "BACKEND"):
            continue
        status = row["status"]
        if status.startswith("MAINT"):  # an empty slot: no container behind that name
            continue
        counts[pool][1] += 1
        if status.startswith("UP"):
            counts[pool][0] += 1
    return {pool: (up, known) for pool, (up, known) in counts.items()}


def describe(share: int, pools: dict[str, tuple[int, int]]) -> str:
    return f"api-next gets {share} % of requests; ready replicas: {replicas_view(pools)}"


def replicas_view(pools: dict[str, tuple[int, int]]) -> str:
    return ", ".join(f"{pool} {up}/{known}" for pool, (up, known) in pools.items())


def set_share(percent: int, wait: float) -> str:
    needed = [p for p, on in (("api-next", percent > 0), ("api", percent < 100)) if on]
    deadline = time.monotonic() + wait
    while True:
        share, pools = snapshot()
        empty = [p for p in needed if pools[p][0] == 0]
        if not empty:
            break
        if time.monotonic() > deadline:
            raise ShareError(
                f"{empty[0]} has no ready replica after {wait:.0f} s; the share stays "
                f"{share} % (ready replicas: {replicas_view(pools)})"
            )
        time.sleep(1)
    answer = runtime(f"set map {MAP} next {percent}").strip()
    if answer:
        raise ShareError(f"the proxy refused the share: {answer}")
    return describe(percent, pools)


def query(prometheus: str, expr: str) -> float:
    """An instant query's single value; NaN when it has none (no samples yet)."""
    url = f"{prometheus.rstrip('/')}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=QUERY_TIMEOUT) as resp:
            body = json.load(resp)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise ShareError(f"Prometheus at {prometheus} did not answer: {exc}") from None
    result = body.get("data", {}).get("result", [])
    return float(result[0]["value"][1]) if result else math.nan


def check(prometheus: str, window: int, min_requests: int, max_error_rate: float,
          max_p95: float) -> tuple[bool, str]:  # fmt: skip
    sel = 'job="api",pool="api-next"'
    w = f"{window}s"
    answered = query(prometheus, f"sum(increase(http_requests_total{{{sel}}}[{w}]))")
    everyone = query(prometheus, f'sum(increase(http_requests_total{{job="api"}}[{w}]))')
    failed = query(prometheus, f'sum(increase(http_requests_total{{{sel},status=~"5.."}}[{w}]))')
    p95 = query(
        prometheus,
        f"histogram_quantile(0.95, sum by (le) "
        f"(rate(http_request_duration_seconds_bucket{{{sel}}}[{w}])))",
    )
    answered = 0.0 if math.isnan(answered) else answered
    failed = 0.0 if math.isnan(failed) else failed
    share = 100 * answered / everyone if everyone and not math.isnan(everyone) else 0.0
    rate = 100 * failed / answered if answered else 0.0
    problems = []
    if answered < min_requests:
        problems.append(f"fewer than {min_requests} requests reached it")
    if rate > max_error_rate:
        problems.append(f"error rate over {max_error_rate:g} %")
    if not math.isnan(p95) and p95 > max_p95:
        problems.append(f"p95 over {max_p95 * 1000:.0f} ms")
    p95_text = "no samples" if math.isnan(p95) else f"{p95 * 1000:.0f} ms"
    line = (
        f"api-next over the last {window} s: {answered:.0f} requests ({share:.1f} % of all), "
        f"{rate:.1f} % errors (limit {max_error_rate:g} %), p95 {p95_text} "
        f"(limit {max_p95 * 1000:.0f} ms): " + ("; ".join(problems) or "ok")
    )
    return not problems, line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Run with the sandbox's compose environment: eval \"$(opsbook sandbox env)\"",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("show", help="the share now and each pool's ready replicas")
    p_set = sub.add_parser("set", help="send PERCENT of requests to api-next")
    p_set.add_argument("percent", type=int, help="0-100")
    p_set.add_argument("--wait", type=float, default=60.0,
                       help="seconds to wait for a ready replica in each pool (default 60)")
    p_check = sub.add_parser("check", help="api-next's figures against the limits")
    p_check.add_argument("--prometheus", default=os.environ.get("PROM_URL"),
                         help="Prometheus URL (default $PROM_URL)")
    p_check.add_argument("--window", type=int, default=30, help="seconds looked at (default 30)")
    p_check.add_argument("--min-requests", type=int, default=1,
                         help="fail when api-next answered fewer (default 1)")
    p_check.add_argument("--max-error-rate", type=float, required=True, help="percent")
    p_check.add_argument("--max-p95", type=float, required=True, help="seconds")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.command == "show":
            print(describe(*snapshot()))
        elif args.command == "set":
            if not 0 <= args.percent <= 100:
                parser.error("PERCENT must be 0-100")
            print(set_share(args.percent, args.wait))
        else:
            if not args.prometheus:
                parser.error("no Prometheus URL: pass --prometheus or export PROM_URL")
            if urllib.parse.urlsplit(args.prometheus).hostname != "127.0.0.1":
                parser.error("--prometheus must be on 127.0.0.1 (the sandbox's)")
            ok, line = check(args.prometheus, args.window, args.min_requests,
                             args.max_error_rate, args.max_p95)  # fmt: skip
            print(line)
            return 0 if ok else 1
    except ToolError as exc:
        print(f"share: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("share: interrupted; `share.py show` tells where the share stands", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
