"""`opsbook test -j N`: N workers, each an `opsbook test` of its own on sandbox instance K.

    pages --shard.split--> N lists --> worker K: OPSBOOK_SANDBOX_INSTANCE=K opsbook test
                                       --results .opsbook/results-jK.json PAGE...
          <--store.merge-- N results files (keys restored to instance 0's)

A worker is a whole `opsbook test` in its own process: its own compose project and port
block (facts/instances.py), its own shell sessions, its own Ctrl-C handling and sandbox
teardown. Threads in one process were the alternative; they would share the signal
handlers and the process-wide state the harness keeps per run, for no gain: the work is
waiting on the sandboxes, not Python.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from opsbook.facts.instances import VARIABLE
from opsbook.harness.model import RunResults
from opsbook.harness.reporting import results as results_file
from opsbook.harness.reporting import store

WORKER_TIMEOUT = 4 * 3600  # seconds; a worker's own blocks and scenarios have timeouts


@dataclass(frozen=True)
class Worker:
    instance: int  # sandbox instance (facts/instances.py)
    pages: tuple[str, ...]
    results: Path  # its results file


def worker_command(project_root: Path, worker: Worker, build: bool) -> list[str]:
    cmd = [sys.executable, "-m", "opsbook", "--project", str(project_root), "test",
           "--results", str(worker.results)]  # fmt: skip
    if not build:
        cmd.append("--no-build")
    return [*cmd, *worker.pages]


def run_workers(
    project_root: Path,
    workers: Sequence[Worker],
    say: Callable[[str], None],
    build: bool = False,
) -> list[int]:
    """Run every worker at once, each line of its output prefixed `[K]`; return their exit
    codes. Ctrl-C reaches the workers too (same process group): each stops and takes its
    sandbox down, and this waits for them."""
    procs: list[subprocess.Popen[str]] = []
    pumps: list[threading.Thread] = []
    lock = threading.Lock()

    def pump(k: int, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with lock:
                say(f"[{k}] {line.rstrip()}")

    try:
        for w in workers:
            env = {**os.environ, VARIABLE: str(w.instance), "PYTHONUNBUFFERED": "1"}
            proc = subprocess.Popen(
                worker_command(project_root, w, build),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            procs.append(proc)
            t = threading.Thread(target=pump, args=(w.instance, proc.stdout), daemon=True)
            t.start()
            pumps.append(t)
        return [p.wait(timeout=WORKER_TIMEOUT) for p in procs]
    finally:
        for p in procs:  # interrupted: the workers got the same Ctrl-C; let them clean up
            if p.poll() is None:
                try:
                    p.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    p.kill()
        for t in pumps:
            t.join(timeout=5)


def collect(
    workers: Sequence[Worker], keys: Mapping[str, str], earlier: Sequence[RunResults] = ()
) -> RunResults:
    """One report from the workers' files (and reused results): a worker ran pages
    rendered for its own ports, so its records get instance 0's keys back, which is what
    the content was verified for."""
    parts = list(earlier)
    for w in workers:
        if not w.results.is_file():
            continue  # a worker that failed before its first block
        part = results_file.read_file(w.results)
        part.pages = [replace(r, key=keys.get(r.page, r.key)) for r in part.pages]
        parts.append(part)
    return store.merge(parts)
