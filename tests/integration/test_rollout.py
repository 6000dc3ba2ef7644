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
    # check; a new replica listens only once its app has started. Six containers that
    # answer for `api` in DNS and never listen make that window as wide as it gets.
    sandbox.ensure_healthy()
    network = f"{sandbox.facts.platform.compose_project}_default"
    names = [f"opsbook-unready-{uuid.uuid4().hex[:8]}" for _ in range(6)]
    env = {**os.environ, **sandbox.env}

    def call(i: int) -> int | str:
        if i % 4 == 0:
            job = {"kind": "echo", "payload": {"unready": i}}
            status, _ = sandbox.request("proxy", "/api/v1/jobs", method="POST", body=job)
        else:
            status, _ = sandbox.request("proxy", "/version")
        return status

    seen: Counter[int | str] = Counter()
    try:
        for name in names:
            subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "--network", network,
                            "--network-alias", "api", "debian:bookworm-slim", "sleep", "300"],
                           env=env, capture_output=True, timeout=60, check=True)  # fmt: skip
        end = time.monotonic() + 5
        with ThreadPoolExecutor(8) as pool:
            while time.monotonic() < end:
                seen.update(pool.map(call, range(32)))
    finally:
        subprocess.run(["docker", "rm", "-f", *names], env=env, capture_output=True,
                       timeout=60, check=False)  # fmt: skip
    assert sum(seen.values()) > 400, seen
    assert set(seen) <= {200, 202}, f"clients saw {json.dumps(dict(seen))}"


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
