"""Stopping `opsbook test -j N` (harness/parallel.py) however the signal comes: each worker
gets exactly one SIGTERM, finishes its cleanup, and the parent waits for it. The workers
here are stand-ins that record the signals they get; the real workers' own stop (their
sandbox taken down) is proven by tests/integration/test_clean_stops.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from opsbook.harness.parallel import Worker, worker_command

# A stand-in worker: says it is ready, records every stop signal, takes 0.5 s to "take its
# sandbox down" after the first, then exits 130 as `opsbook test` does when interrupted.
WORKER = textwrap.dedent("""
    import signal, sys, time
    from pathlib import Path
    record = Path(sys.argv[1])
    got = []
    def stop(signum, frame):
        got.append(signal.Signals(signum).name)
        record.write_text(" ".join(got))
        if len(got) == 1:
            time.sleep(0.5)
            record.write_text(" ".join(got) + " clean")
            sys.exit(130)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    time.sleep(60)
    sys.exit(3)
""")

# The parent: run_workers over two stand-ins, as `opsbook test -j 2` calls it.
PARENT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from opsbook.harness.parallel import Worker, run_workers
    state = Path(sys.argv[1])
    worker = sys.argv[2]
    def command(root, w, build):
        return [sys.executable, "-c", worker, str(state / f"w{w.instance}")]
    workers = [Worker(k, ("page.md",), state / f"results-j{k}.json") for k in (0, 1)]
    try:
        run_workers(state, workers, lambda line: print(line, flush=True), command=command)
    except KeyboardInterrupt:
        print("parent interrupted", flush=True)
        sys.exit(130)
    sys.exit(4)
""")


def start_parent(state: Path) -> subprocess.Popen[str]:
    # its own session, as a shell gives a job: the test can signal its process group
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(state), WORKER], stdout=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    assert parent.stdout is not None
    ready = []
    deadline = time.monotonic() + 30
    while len(ready) < 2:
        assert time.monotonic() < deadline, f"workers never ready: {ready}"
        line = parent.stdout.readline()
        if line.rstrip().endswith("ready"):
            ready.append(line)
    return parent


@pytest.mark.parametrize(
    "how", ["SIGINT to the parent", "SIGTERM to the parent", "Ctrl-C at a terminal"]
)
def test_each_worker_gets_one_sigterm_and_the_parent_waits(tmp_path: Path, how: str) -> None:
    parent = start_parent(tmp_path)
    if how == "SIGINT to the parent":
        parent.send_signal(signal.SIGINT)
    elif how == "SIGTERM to the parent":
        parent.send_signal(signal.SIGTERM)
    else:  # a terminal sends Ctrl-C to the whole foreground process group
        os.killpg(parent.pid, signal.SIGINT)
    out, _ = parent.communicate(timeout=30)
    assert parent.returncode == 130, out
    assert "parent interrupted" in out
    # the parent returned only after both workers had finished their cleanup
    records = {k: (tmp_path / f"w{k}").read_text() for k in (0, 1)}
    assert records == {0: "SIGTERM clean", 1: "SIGTERM clean"}, json.dumps(records)


def test_a_second_signal_while_workers_clean_up_is_not_passed_on(tmp_path: Path) -> None:
    parent = start_parent(tmp_path)
    parent.send_signal(signal.SIGINT)
    time.sleep(0.2)  # the workers are within their 0.5 s of cleanup
    parent.send_signal(signal.SIGINT)
    parent.send_signal(signal.SIGTERM)
    out, _ = parent.communicate(timeout=30)
    assert parent.returncode == 130, out
    records = {k: (tmp_path / f"w{k}").read_text() for k in (0, 1)}
    assert records == {0: "SIGTERM clean", 1: "SIGTERM clean"}, json.dumps(records)


def test_the_worker_command_is_opsbook_test_on_its_pages(tmp_path: Path) -> None:
    w = Worker(1, ("a.md", "b.md"), tmp_path / "results-j1.json")
    cmd = worker_command(tmp_path, w, build=False)
    assert cmd[1:] == ["-m", "opsbook", "--project", str(tmp_path), "test", "--results",
                       str(tmp_path / "results-j1.json"), "--no-build", "a.md", "b.md"]  # fmt: skip
