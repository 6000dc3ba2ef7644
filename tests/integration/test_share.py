"""The next pool's share (sandbox/tools/share.py) against the real proxy and Prometheus.

The canary and blue-green pages prove the path that succeeds and a canary that never gets
ready; this proves that `check` fails a canary nobody reached, and that the share sends
what it says to the pool it names.
"""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.integration

LIMITS = ("--max-error-rate", "2", "--max-p95", "1")


def share(sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return sandbox.tool("share.py", *args, timeout=120, PROM_URL=sandbox.urls["prometheus"])


@pytest.fixture
def next_pool(sandbox):
    sandbox.ensure_healthy()
    # the previous release, so a response says which pool answered it
    previous = sandbox.facts.deployment.versions.previous
    sandbox.compose("--profile", "next", "up", "-d", "--wait", "--no-deps", "api-next",
                    API_NEXT_VERSION=previous)  # fmt: skip
    try:
        # healthy to Docker is not yet ready to the proxy: its own check must pass twice
        def proxy_sees_it() -> bool:
            return "api-next 1/1" in share(sandbox, "show").stdout

        sandbox.wait_for("the proxy to see api-next ready", proxy_sees_it, timeout=30)
        yield
    finally:
        share(sandbox, "set", "0")
        sandbox.compose("--profile", "next", "rm", "--stop", "--force", "api-next")


def versions(sandbox, n: int, **headers: str) -> dict[str, int]:
    seen: dict[str, int] = {}
    for _ in range(n):
        code, body = sandbox.request("proxy", "/version", headers=headers)
        assert code == 200, body
        seen[body["version"]] = seen.get(body["version"], 0) + 1
    return seen


def test_a_canary_nobody_reached_fails_its_check(sandbox, next_pool) -> None:
    assert share(sandbox, "set", "0").returncode == 0
    for _ in range(20):
        sandbox.request("proxy", "/api/v1/jobs/none")  # traffic, all of it to api
    done = share(sandbox, "check", "--window", "30", "--min-requests", "1", *LIMITS)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "api-next over the last 30 s: 0 requests" in done.stdout
    assert done.stdout.rstrip().endswith("fewer than 1 requests reached it")


def test_the_share_goes_where_it_says(sandbox, next_pool) -> None:
    current = sandbox.facts.deployment.versions.current
    previous = sandbox.facts.deployment.versions.previous
    assert share(sandbox, "set", "0").returncode == 0
    assert versions(sandbox, 20) == {current: 20}
    # asked for by header, the next pool answers whatever the share
    assert versions(sandbox, 5, **{"X-Opsbook-Pool": "next"}) == {previous: 5}
    done = share(sandbox, "set", "100", "--wait", "30")
    assert done.returncode == 0, done.stderr
    # api keeps its 2 ready replicas (a slot of a replica removed moments ago may linger)
    assert done.stdout.startswith("api-next gets 100 % of requests; ready replicas: api 2/")
    assert versions(sandbox, 20) == {previous: 20}
    done = share(sandbox, "set", "50")
    seen = versions(sandbox, 200)
    assert set(seen) == {current, previous} and 60 <= seen[previous] <= 140, seen
