"""`mkdocs serve` picks up an edited fact: the served page changes without a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from opsbook.project import Project
from tests.helpers import replace_in


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except OSError:
        return None


def wait_for(predicate, deadline_s: float, what: str, log: Path) -> str:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if (value := predicate()) is not None:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; serve log:\n{log.read_text()[-3000:]}")


@contextmanager
def serving(project: Project, log: Path) -> Iterator[str]:
    """A real `mkdocs serve` of `project` on a free 127.0.0.1 port (its base URL), its
    output in `log`; stopped with its whole process group at the end."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "serve", "--dev-addr", f"127.0.0.1:{port}"],
            cwd=project.root, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, start_new_session=True,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_serve_rebuilds_when_a_fact_changes(project_copy: Project, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with serving(project_copy, log) as base:
        url = f"{base}/monitoring/"
        page = wait_for(lambda: fetch(url), 60, "the first build", log)
        assert "&gt; 500 jobs" in page or "> 500 jobs" in page

        thresholds = project_copy.facts_dir / "thresholds.yml"
        replace_in(thresholds, "    warning: 500", "    warning: 777")

        def changed() -> str | None:
            text = fetch(url)
            return text if text and "777 jobs" in text else None

        page = wait_for(changed, 60, "the edited fact to show", log)
        assert "500 jobs" not in page
