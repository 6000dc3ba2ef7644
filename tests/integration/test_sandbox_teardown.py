"""`opsbook sandbox down` leaves no container, volume or network with the project label."""

from __future__ import annotations

import subprocess

import pytest

from opsbook.sandbox import down, up

pytestmark = pytest.mark.integration


def labelled(kind: str, project: str) -> list[str]:
    args = ["docker", kind, "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"]
    if kind == "container":
        args.insert(3, "-a")  # stopped containers count too
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.split()


def test_down_removes_everything_it_created(sandbox) -> None:  # noqa: ANN001
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
