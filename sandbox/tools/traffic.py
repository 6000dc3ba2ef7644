#!/usr/bin/env python3
"""A bounded client for proving procedures under live traffic: it submits jobs and reads
readiness against the API on 127.0.0.1, then counts what became of every job.

    traffic.py start --url http://127.0.0.1:18000 --state DIR [--rate 20] [--seconds 900]
    ... the procedure runs (deploy, rollback, restore) ...
    traffic.py stop --state DIR [--settle 120]      one JSON line: the counts

`start` returns at once and leaves a driver running in the background (its pid in
DIR/pid); it stops by itself after --seconds or --max-jobs, whichever comes first.
Every request is written to DIR/ledger.jsonl as it finishes. `stop` ends the driver,
then waits up to --settle seconds for every accepted job to finish and prints:

    accepted   jobs the API answered 202 for
    completed  ... that reached `completed`
    failed     ... that reached `failed` (with an error: not lost)
    lost       ... still queued or running after --settle, or unknown to the API
    refused    requests whose connection was refused or dropped (submits and reads)
    errors     requests answered 5xx (submits and reads)
    samples    the first few refused or 5xx requests, each "HH:MM:SS.mmm op status: why",
               so a failed count says what the client saw

Standard library only, so it runs with the system's python3 wherever the sandbox's
files are, as whichever user runs the page's blocks.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

LOOPBACK = "127.0.0.1"
TIMEOUT = 10.0  # seconds per request
WHY_CHARS = 120  # of an error answer kept in the ledger
SAMPLES = 5  # refused or 5xx requests shown in the count


def _request(base: urllib.parse.SplitResult, method: str, path: str, body: dict | None = None):
    """(status, parsed JSON, or the text when it is not JSON), or (None, error name) when
    no HTTP answer came."""
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=TIMEOUT)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"} if data else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:  # the proxy's own error pages are HTML
            return resp.status, raw.decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        return None, type(exc).__name__
    finally:
        conn.close()


def _why(body: object) -> str:
    """One short line from an error answer: the API's `detail` or `error`, else the
    text of the proxy's error page without its markup."""
    if isinstance(body, dict):
        body = body.get("detail") or body.get("error") or body.get("status") or body
    text = re.sub(r"<[^>]+>", " ", str(body or ""))
    return " ".join(text.split())[:WHY_CHARS]


def _entry(op: str, status: int | None, body: object) -> dict:
    """A ledger line for one request: refused (no answer) or its status, and for a 5xx
    what the client was told."""
    entry: dict = {"op": op, "t": round(time.time(), 3)}
    if status is None:
        entry["refused"] = body
    else:
        entry["status"] = status
        if status >= 500:
            entry["why"] = _why(body)
    return entry


def _went_wrong(entry: dict) -> bool:
    return "refused" in entry or entry.get("status", 0) >= 500


def _base(url: str) -> urllib.parse.SplitResult:
    base = urllib.parse.urlsplit(url)
    if base.scheme != "http" or base.hostname != LOOPBACK or base.port is None:
        sys.exit(f"traffic.py: --url must be http://{LOOPBACK}:PORT (got {url!r}); "
                 "this driver only talks to the local sandbox")
    return base


class Driver:
    def __init__(self, args: argparse.Namespace) -> None:
        self.base = _base(args.url)
        self.rate = args.rate
        self.deadline = time.monotonic() + args.seconds
        self.max_jobs = args.max_jobs
        self.kind = args.kind
        self.ledger = open(Path(args.state) / "ledger.jsonl", "a", buffering=1)  # noqa: SIM115 (closed by run())
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def note(self, entry: dict) -> None:
        with self.lock:
            self.ledger.write(json.dumps(entry) + "\n")

    def submit(self, n: int) -> None:
        status, body = _request(self.base, "POST", "/api/v1/jobs",
                                {"kind": self.kind, "payload": {"traffic": n}})
        entry = _entry("submit", status, body)
        if status == 202 and isinstance(body, dict):
            entry["id"] = body.get("id")
        self.note(entry)

    def read_health(self) -> None:
        while not self.stop.wait(0.5):
            self.note(_entry("health", *_request(self.base, "GET", "/health/ready")))

    def run(self) -> None:
        reader = threading.Thread(target=self.read_health, daemon=True)
        reader.start()
        interval = 1.0 / self.rate
        with ThreadPoolExecutor(max_workers=16) as pool:
            n = 0
            start = time.monotonic()
            while not self.stop.is_set() and n < self.max_jobs:
                if time.monotonic() > self.deadline:
                    break
                pool.submit(self.submit, n)
                n += 1
                self.stop.wait(max(0.0, start + n * interval - time.monotonic()))
        self.stop.set()
        reader.join(timeout=TIMEOUT + 1)
        self.ledger.close()


def start(args: argparse.Namespace) -> None:
    _base(args.url)
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    (state / "ledger.jsonl").write_text("")
    (state / "url").write_text(args.url)
    (state / "rate").write_text(f"{args.rate:g}")
    if os.fork():  # the caller returns at once; the driver runs in its own session
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    driver = Driver(args)
    signal.signal(signal.SIGTERM, lambda *_: driver.stop.set())
    (state / "pid").write_text(str(os.getpid()))
    try:
        driver.run()
    finally:
        (state / "done").write_text("")
        os._exit(0)


def _sample(entry: dict) -> str:
    clock = datetime.fromtimestamp(entry["t"]).strftime("%H:%M:%S.%f")[:-3]
    if "refused" in entry:
        return f"{clock} {entry['op']} refused: {entry['refused']}"
    return f"{clock} {entry['op']} {entry['status']}: {entry.get('why', '')}"


def stop(args: argparse.Namespace) -> None:
    state = Path(args.state)
    base = _base((state / "url").read_text())
    pid_file = state / "pid"
    for _ in range(50):  # the driver writes its pid right after it starts
        if pid_file.exists():
            break
        time.sleep(0.1)
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
    end = time.monotonic() + TIMEOUT + 5
    while not (state / "done").exists() and time.monotonic() < end:
        time.sleep(0.1)
    entries = [json.loads(line) for line in (state / "ledger.jsonl").read_text().splitlines()
               if line.strip()]
    accepted = [e["id"] for e in entries if e["op"] == "submit" and e.get("id")]
    finished: dict[str, str] = {}
    deadline = time.monotonic() + args.settle
    while True:
        for job_id in [j for j in accepted if j not in finished]:
            status, body = _request(base, "GET", f"/api/v1/jobs/{job_id}")
            if status == 200 and isinstance(body, dict) and body.get("status") in (
                "completed", "failed"
            ):
                finished[job_id] = body["status"]
        if len(finished) == len(accepted) or time.monotonic() > deadline:
            break
        time.sleep(1)
    seconds = [e["t"] for e in entries if e["op"] == "submit"]
    summary = {
        "rate": float((state / "rate").read_text()),
        "seconds": round(max(seconds) - min(seconds), 1) if seconds else 0.0,
        "accepted": len(accepted),
        "completed": sum(1 for s in finished.values() if s == "completed"),
        "failed": sum(1 for s in finished.values() if s == "failed"),
        "lost": len(accepted) - len(finished),
        "refused": sum(1 for e in entries if "refused" in e),
        "errors": sum(1 for e in entries if e.get("status", 0) >= 500),
        "lost_ids": [j for j in accepted if j not in finished][:20],
        "samples": [_sample(e) for e in entries if _went_wrong(e)][:SAMPLES],
    }
    print(json.dumps(summary))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("start", help="start the driver in the background")
    s.add_argument("--url", required=True, help=f"the API, http://{LOOPBACK}:PORT")
    s.add_argument("--state", required=True, help="directory for the pid and the ledger")
    s.add_argument("--rate", type=float, default=20.0, help="job submissions per second")
    s.add_argument("--seconds", type=float, default=900.0, help="stop by itself after this")
    s.add_argument("--max-jobs", type=int, default=50_000, help="and after this many jobs")
    s.add_argument("--kind", default="echo", choices=["echo", "sleep"], help="job kind")
    t = sub.add_parser("stop", help="stop it, wait for the jobs, print the counts")
    t.add_argument("--state", required=True)
    t.add_argument("--settle", type=float, default=120.0,
                   help="seconds to wait for accepted jobs to finish")
    args = ap.parse_args()
    if args.command == "start":
        start(args)
    else:
        stop(args)


if __name__ == "__main__":
    main()
