"""`opsbook test -j N`: N workers, each an `opsbook test` of its own on sandbox instance K.

    pages --shard.split--> N lists --> worker K: OPSBOOK_SANDBOX_INSTANCE=K opsbook test
                                       --results .opsbook/results-jK.json PAGE...
          <--store.merge-- N results files (keys restored to instance 0's)

A worker is a whole `opsbook test` in its own process: its own compose project and port
block (facts/instances.py), its own shell sessions, its own Ctrl-C handling and sandbox
teardown. Threads in one process were the alternative; they would share the signal
handlers and the process-wide state the harness keeps per run, for no gain: the work is
waiting on the sandboxes, not Python.

Stopping: each worker runs in a session of its own, so however the run is stopped (Ctrl-C
at a terminal, SIGINT or SIGTERM to this process alone, as a CI runner may send), the
signal arrives here only, and each worker gets exactly one SIGTERM from here: it ends its
page and takes its sandbox down. A second signal to a worker while it cleans up cannot
arise, and one to this process while it waits for them is ignored.
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
from opsbook.signals import deferred_signals, terminate_as_interrupt

WORKER_TIMEOUT = 4 * 3600  # seconds; a worker's own blocks and scenarios have timeouts
STOP_GRACE = 180  # seconds a stopped worker has to end its page and take its sandbox down


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
    command: Callable[[Path, Worker, bool], list[str]] = worker_command,
) -> list[int]:
    """Run every worker at once, each line of its output prefixed `[K]`; return their exit
    codes. Interrupted (SIGINT or SIGTERM), it stops each worker with one SIGTERM, waits for
    them to take their sandboxes down, and raises KeyboardInterrupt."""
    procs: list[subprocess.Popen[str]] = []
    pumps: list[threading.Thread] = []
    lock = threading.Lock()

    def pump(k: int, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with lock:
                say(f"[{k}] {line.rstrip()}")

    try:
        with terminate_as_interrupt():
            for w in workers:
                env = {**os.environ, VARIABLE: str(w.instance), "PYTHONUNBUFFERED": "1"}
                proc = subprocess.Popen(
                    command(project_root, w, build),
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,  # signals reach the workers through here only
                )
                procs.append(proc)
                t = threading.Thread(target=pump, args=(w.instance, proc.stdout), daemon=True)
                t.start()
                pumps.append(t)
            return [p.wait(timeout=WORKER_TIMEOUT) for p in procs]
    finally:
        with deferred_signals(redeliver=False):
            _stop(procs)
        for t in pumps:
            t.join(timeout=5)


def _stop(procs: Sequence[subprocess.Popen[str]]) -> None:
    """One SIGTERM to each worker still running (an interrupted run), then wait for each to
    take its sandbox down; one that outlives STOP_GRACE is killed."""
    running = [p for p in procs if p.poll() is None]
    for p in running:
        p.terminate()
    for p in running:
        try:
            p.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=30)


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
