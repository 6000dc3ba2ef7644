"""The rolling rollout (sandbox/tools/rollout.py) against the real sandbox, under traffic.

The deployment and rollback pages prove a rollout that succeeds; this proves the other
path: new replicas that never become ready are removed, the old ones never stop serving,
and clients see no refused connection, no 5xx and no lost job. And the proxy's part in it:
a replica that is in DNS before it listens costs no client an error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.test_traffic import start, stop

pytestmark = pytest.mark.integration

ROLLOUT = Path(__file__).resolve().parents[2] / "sandbox" / "tools" / "rollout.py"


def rollout(sandbox, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return sandbox.tool("rollout.py", *args, **env)


def images(sandbox) -> list[str]:
    out = sandbox.compose("ps", "api", "--format", "{{.Image}} {{.Health}}").stdout
    return sorted(out.split("\n")[:-1])


def test_a_release_that_never_gets_ready_is_removed_and_nobody_notices(sandbox, tmp_path) -> None:
    sandbox.ensure_healthy()  # a test before may have left a replica still recovering
    facts = sandbox.facts
    good = f"{facts.service('api').image}:{facts.deployment.versions.current} healthy"
    assert images(sandbox) == [good] * facts.service("api").replicas
    start(sandbox, tmp_path / "traffic", "--rate", "20", "--seconds", "120")
    try:
        done = rollout(sandbox, "api", "--timeout", "25",
                       API_VERSION=facts.deployment.versions.broken)  # fmt: skip
    finally:
        counts = stop(tmp_path / "traffic", settle=60)
    assert done.returncode == 1, done.stderr
    assert "aborted" in done.stdout and "not healthy after 25 s" in done.stdout, done.stdout
    assert images(sandbox) == [good] * facts.service("api").replicas
    assert counts["accepted"] > 400, counts
    assert (counts["lost"], counts["refused"], counts["errors"]) == (0, 0, 0), counts


def test_replicas_that_resolve_before_they_listen_cost_clients_nothing(sandbox) -> None:
    # HAProxy counts a server up from the moment DNS gives it an address, before its first
    # check; a new replica listens only once its app has started. Containers that answer
    # for `api` in DNS and never listen hold that window open. Six at once, as a rollout of
    # six replicas would start, four times over. Without the proxy's settings for it
    # (haproxy.cfg: observe layer4, retries), clients saw 2 to 144 answers of 503 in each
    # of 5 runs.
    sandbox.ensure_healthy()
    network = f"{sandbox.facts.platform.compose_project}_default"
    env = {**os.environ, **sandbox.env}

    def call(i: int) -> int | str:
        # /health/ is outside the API's request metrics: thousands of fast requests here
        # would hold the latency quantiles of the next tests' 5 m windows down. A POST is
        # never retried after it reached a replica, so half are POSTs (answered 405).
        if i % 2:
            return sandbox.request("proxy", "/health/live", method="POST", body={})[0]
        return sandbox.request("proxy", "/health/live")[0]

    def unready(name: str) -> None:
        subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "--network", network,
                        "--network-alias", "api", "debian:bookworm-slim", "sleep", "300"],
                       env=env, capture_output=True, timeout=60, check=True)  # fmt: skip

    seen: Counter[int | str] = Counter()
    stop = threading.Event()

    def clients() -> None:  # requests flow while each new container's window opens
        with ThreadPoolExecutor(8) as pool:
            while not stop.is_set():
                seen.update(pool.map(call, range(32)))

    traffic = threading.Thread(target=clients)
    traffic.start()
    names: list[str] = []
    try:
        for _ in range(4):
            batch = [f"opsbook-unready-{uuid.uuid4().hex[:8]}" for _ in range(6)]
            names += batch
            with ThreadPoolExecutor(len(batch)) as pool:
                list(pool.map(unready, batch))
            time.sleep(3)  # past their first checks
            subprocess.run(["docker", "rm", "-f", *batch], env=env, capture_output=True,
                           timeout=60, check=True)  # fmt: skip
            time.sleep(2)  # out of DNS, their slots free again
    finally:
        stop.set()
        traffic.join(timeout=60)
        subprocess.run(["docker", "rm", "-f", *names], env=env, capture_output=True,
                       timeout=60, check=False)  # fmt: skip
    assert sum(seen.values()) > 2000, seen
    assert set(seen) <= {200, 405}, f"clients saw {json.dumps(dict(seen))}"


def test_bad_arguments_and_a_missing_engine_are_one_line(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROLLOUT), "api", "--replicas", "0"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and "--replicas must be 1-8" in done.stderr
    done = subprocess.run(
        [sys.executable, str(ROLLOUT), "api"],
        env={**os.environ, "PATH": str(tmp_path)}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2, done
    assert done.stderr.strip() == "rollout: error: docker is not on PATH"
