"""The traffic driver (sandbox/tools/traffic.py) against a small stand-in API on 127.0.0.1:
what it writes down when a request is refused or answered 5xx. Its counts against the
real sandbox are proven by tests/integration/test_traffic.py and test_rollout.py."""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

DRIVER = Path(__file__).resolve().parents[1] / "sandbox" / "tools" / "traffic.py"
BAD_GATEWAY = b"<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid response.\n"


class StandIn(BaseHTTPRequestHandler):
    """Every third submission meets the proxy's 502 page; readiness says the API's 503
    once; every accepted job is complete at once."""

    submissions = itertools.count()
    readiness = itertools.count()

    def log_message(self, *args: object) -> None:
        pass

    def answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        self.rfile.read(int(self.headers["content-length"]))
        if next(self.submissions) % 3 == 2:
            self.answer(502, BAD_GATEWAY, "text/html")
        else:
            self.answer(202, json.dumps({"id": str(uuid.uuid4()), "status": "queued"}).encode())

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/health/ready":
            if next(self.readiness) == 0:
                body = {"status": "not ready", "checks": {"schema": "v3 needs 0003"}}
                self.answer(503, json.dumps(body).encode())
            else:
                self.answer(200, b"{}")
        else:
            self.answer(200, json.dumps({"status": "completed"}).encode())


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def driver(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DRIVER), *args], capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def ran_out(state: Path) -> None:
    """Wait for the driver to stop by itself (`stop` would end it at once)."""
    deadline = time.monotonic() + 20
    while not (state / "done").exists():
        assert time.monotonic() < deadline, "the driver did not stop after its --seconds"
        time.sleep(0.05)


def test_a_5xx_is_counted_with_what_the_client_saw(api: str, tmp_path: Path) -> None:
    assert driver("start", "--url", api, "--state", str(tmp_path), "--rate", "10",
                  "--seconds", "1.5").returncode == 0  # fmt: skip
    ran_out(tmp_path)
    done = driver("stop", "--state", str(tmp_path), "--settle", "10")
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.splitlines()[-1])
    ledger = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    bad = [e for e in ledger if e.get("status", 0) >= 500]
    assert counts["errors"] == len(bad) >= 2, counts
    assert counts["lost"] == 0 and counts["accepted"] == counts["completed"] > 0, counts
    # the proxy's HTML page becomes its text; the API's JSON gives its reason
    assert "submit 502: 502 Bad Gateway The server returned an invalid response." in " ".join(
        counts["samples"]
    ), counts["samples"]
    first = min(bad, key=lambda e: e["t"])
    assert counts["samples"][0].endswith(f"{first['op']} {first['status']}: {first['why']}")
    health = [e for e in bad if e["op"] == "health"]
    assert health and health[0]["why"] == "not ready", health


def test_a_refused_connection_is_a_sample_too(tmp_path: Path) -> None:
    # a port nothing listens on: bound, then closed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert driver("start", "--url", f"http://127.0.0.1:{port}", "--state", str(tmp_path),
                  "--rate", "5", "--seconds", "0.5").returncode == 0  # fmt: skip
    ran_out(tmp_path)
    counts = json.loads(driver("stop", "--state", str(tmp_path), "--settle", "1").stdout)
    assert counts["refused"] > 0 and counts["accepted"] == 0, counts
    assert counts["samples"] and "refused: ConnectionRefusedError" in counts["samples"][0]
