"""The traffic driver and the reliable queue against the real sandbox.

The driver (sandbox/tools/traffic.py) counts what became of every job it submitted; these
tests prove its count catches a job lost behind the worker's back, and that the worker
loses none when it is stopped or killed with a job in hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DRIVER = Path(__file__).resolve().parents[2] / "sandbox" / "tools" / "traffic.py"
PROCESSING = "opsbook:jobs:processing"
LEASES = "opsbook:jobs:leases"


def driver(*args: str, timeout: float = 200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DRIVER), *args], capture_output=True, text=True, timeout=timeout
    )


def start(sandbox, state: Path, *extra: str) -> None:
    done = driver("start", "--url", sandbox.url("proxy"), "--state", str(state), *extra)
    assert done.returncode == 0, done.stderr


def stop(state: Path, settle: int) -> dict:
    done = driver("stop", "--state", str(state), "--settle", str(settle))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def redis(sandbox, *args: str) -> str:
    return sandbox.compose("exec", "-T", "redis", "redis-cli", *args).stdout.strip()


def taken(sandbox) -> list[str]:
    return redis(sandbox, "LRANGE", PROCESSING, "0", "-1").split()


def test_the_count_catches_a_job_deleted_behind_the_workers_back(sandbox, tmp_path) -> None:
    sandbox.ensure_healthy()
    start(sandbox, tmp_path, "--rate", "2", "--seconds", "6", "--kind", "sleep")
    try:
        job = sandbox.wait_for("a job in the worker's hands", lambda: taken(sandbox), 30)[0]
        # the worker dies holding it, and the processing list forgets it: exactly the loss
        # a plain BRPOP queue suffers on every crash
        sandbox.compose("kill", "worker")
        assert redis(sandbox, "LREM", PROCESSING, "1", job) == "1"
        redis(sandbox, "ZREM", LEASES, job)
        sandbox.compose("start", "worker")
    finally:
        sandbox.ensure_healthy()
    time.sleep(6)  # the driver stops by itself after its 6 s
    counts = stop(tmp_path, settle=30)
    # the lost job would stay `running` in PostgreSQL for good: close it for later drills
    sandbox.compose("exec", "-T", "postgres", "psql", "-U", sandbox.facts.platform.database.user,
                    "-d", sandbox.facts.platform.database.name, "-c",
                    f"UPDATE jobs SET status = 'failed' WHERE id = '{job}'")  # fmt: skip
    assert counts["lost"] == 1 and counts["lost_ids"] == [job], counts
    assert counts["accepted"] >= 10 and counts["completed"] == counts["accepted"] - 1, counts
    assert counts["refused"] == 0 and counts["errors"] == 0, counts


def test_a_worker_stopped_or_killed_mid_job_loses_nothing(sandbox, tmp_path) -> None:
    """SIGTERM (a deploy) gives the job in hand back at once; SIGKILL (an OOM kill) leaves
    it under a lease that another take picks up after the visibility timeout."""
    sandbox.ensure_healthy()
    start(sandbox, tmp_path, "--rate", "2", "--seconds", "8", "--kind", "sleep")
    try:
        sandbox.wait_for("a job in the worker's hands", lambda: taken(sandbox), 30)
        sandbox.compose("stop", "worker")  # graceful: the sleep job is given back
        assert taken(sandbox) == []
        sandbox.compose("start", "worker")
        sandbox.wait_for("a job in the worker's hands", lambda: taken(sandbox), 30)
        sandbox.compose("kill", "worker")  # no chance to give it back
        assert len(taken(sandbox)) == 1
        sandbox.compose("start", "worker")
    finally:
        sandbox.ensure_healthy()
    started = time.monotonic()
    counts = stop(tmp_path, settle=150)  # the killed job waits out its 60 s lease
    assert counts["lost"] == 0 and counts["completed"] == counts["accepted"], counts
    assert time.monotonic() - started > 5  # it did wait for the re-queued job
    assert counts["failed"] == 0, counts
