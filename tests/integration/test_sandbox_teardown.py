"""`opsbook sandbox down` leaves no container, volume or network with the project label."""

from __future__ import annotations

import subprocess

import pytest

from opsbook.sandbox import down, up
from tests.helpers import labelled

pytestmark = pytest.mark.integration



def test_down_removes_everything_it_created(sandbox) -> None:
    project = sandbox.facts.platform.compose_project
    assert labelled("container", project), "the sandbox should be running before down"
    assert labelled("volume", project), "the sandbox's volumes should exist before down"
    try:
        down(sandbox.project, sandbox.facts)
        for kind in ("container", "volume", "network"):
            assert labelled(kind, project) == [], f"{kind}s left after down"
    finally:
        # later tests and the site's blocks expect a running sandbox
        up(sandbox.project, sandbox.facts, build=False, progress=lambda line: None)


def test_ctrl_c_during_up_leaves_nothing_running(sandbox, tmp_path) -> None:
    import os
    import signal
    import sys
    import time

    project = sandbox.facts.platform.compose_project
    down(sandbox.project, sandbox.facts)
    log = (tmp_path / "up.log").open("w")
    # its own process group, like a terminal's foreground job, so Ctrl-C reaches it all
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsbook", "--project", str(sandbox.project.root),
         "sandbox", "up", "--no-build"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not labelled("container", project) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert labelled("container", project), "up never started a container"
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=120) != 0
        for kind in ("container", "volume", "network"):
            assert labelled(kind, project) == [], f"{kind}s left after Ctrl-C during up"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        up(sandbox.project, sandbox.facts, build=False, progress=lambda line: None)
