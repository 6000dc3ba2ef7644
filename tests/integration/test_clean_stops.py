"""Clean stops against the real engine: nothing a run created outlives it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from opsbook.errors import OpsbookError
from opsbook.harness.reading.plan import Plan, read_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.harness.verify import verify
from opsbook.project import Project
from opsbook.sandbox import down, up
from opsbook.sandbox.docker import engine_env
from tests.helpers import labelled

pytestmark = pytest.mark.integration


def test_a_container_a_block_starts_outside_the_sandbox_is_removed(sandbox) -> None:
    name = f"opsbook-stray-{uuid.uuid4().hex[:8]}"
    page = read_page(
        "stray.md",
        f"```bash\ndocker run -d --name {name} debian:bookworm-slim sleep 600\n```\n",
        Forbidden(),
    )
    results = verify(Plan([page], Forbidden(), sandbox.facts), project=sandbox.project,
                     write_results=False)
    assert results.blocks[0].status == "passed", results.blocks[0].message
    left = subprocess.run(["docker", "ps", "-aq", "--filter", f"name={name}"], env=engine_env(),
                          capture_output=True, text=True, timeout=30, check=True).stdout
    assert left.strip() == "", f"{name} outlived its page"
    # the sandbox's own containers are not touched
    assert labelled("container", sandbox.facts.platform.compose_project)


def test_another_sandbox_instances_new_containers_outlive_the_page(sandbox) -> None:
    # what compose stamps on a container of sandbox instance 9 (`opsbook test -j N`), made
    # from the same sandbox files while this page runs; beside it, a stray to be removed
    tag = uuid.uuid4().hex[:8]
    sibling, stray = f"opsbook-sibling-{tag}", f"opsbook-stray-{tag}"
    project = f"{sandbox.facts.platform.compose_project}-9"
    page = read_page(
        "siblings.md",
        "```bash\n"
        f"docker run -d --name {sibling} --label com.docker.compose.project={project} "
        '--label com.docker.compose.project.working_dir="$(dirname "$COMPOSE_FILE")" '
        "debian:bookworm-slim sleep 600 >/dev/null\n"
        f"docker run -d --name {stray} debian:bookworm-slim sleep 600 >/dev/null\n"
        "```\n",
        Forbidden(),
    )
    try:
        results = verify(Plan([page], Forbidden(), sandbox.facts), project=sandbox.project,
                         write_results=False)
        assert results.blocks[0].status == "passed", results.blocks[0].message

        def left(name: str) -> str:
            return subprocess.run(
                ["docker", "ps", "-aq", "--filter", f"name=^{name}$"], env=engine_env(),
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout.strip()

        assert left(stray) == "", f"{stray} outlived its page"
        assert left(sibling) != "", "the page's cleanup removed another instance's container"
    finally:
        subprocess.run(["docker", "rm", "-f", sibling, stray], env=engine_env(),
                       capture_output=True, timeout=30, check=False)


def test_sigterm_during_opsbook_test_leaves_no_container_volume_or_network(
    sandbox, tmp_path: Path
) -> None:
    project = sandbox.facts.platform.compose_project
    root = tmp_path / "project"
    root.mkdir()
    for part in ("mkdocs.yml", "facts", "snippets"):
        src = sandbox.project.root / part
        (root / part).symlink_to(src, target_is_directory=src.is_dir())
    (root / "sandbox").symlink_to(sandbox.project.sandbox_dir, target_is_directory=True)
    (root / "docs").mkdir()
    seconds = 2600 + os.getpid() % 1000
    (root / "docs" / "slow.md").write_text(
        "# Slow\n\n```bash\ndocker compose ps --format '{{.Service}}' | grep -q api\n```\n\n"
        f"```bash\nsleep {seconds}\n```\n"
    )
    down(sandbox.project, sandbox.facts)
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsbook", "--project", str(root), "test"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not _sleeping(seconds):
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.2)
        assert _sleeping(seconds), "the slow block never started"
        os.kill(proc.pid, signal.SIGTERM)  # only the harness, as a CI runner's cancel does
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 130, out
        for kind in ("container", "volume", "network"):
            assert labelled(kind, project) == [], f"{kind}s left after SIGTERM:\n{out}"
        data = json.loads((root / ".opsbook" / "results.json").read_text())
        assert data["state"] == "interrupted"
        assert [(b["line"], b["status"]) for b in data["blocks"]] == [(3, "passed")]
        assert not _sleeping(seconds)
        assert not list(tmp_path.glob("opsbook-run-*"))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        up(sandbox.project, sandbox.facts, build=False, progress=lambda line: None)


def _sleeping(seconds: int) -> bool:
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and (p / "cmdline").read_bytes() == f"sleep\0{seconds}\0".encode():
                return True
        except OSError:
            continue
    return False


def test_down_with_the_engine_gone_names_what_may_be_left(
    repo_project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from opsbook.facts import load_facts

    facts = load_facts(repo_project.facts_dir)
    # an engine that is not there (the unisolated mode takes its socket from this variable)
    monkeypatch.setenv("OPSBOOK_ISOLATION", "none")
    monkeypatch.setenv("OPSBOOK_DOCKER_HOST", f"unix://{tmp_path}/gone.sock")
    with pytest.raises(OpsbookError) as info:
        down(repo_project, facts)
    text = "\n".join(info.value.problems)
    assert "Docker is not usable" in text
    assert f"com.docker.compose.project={facts.platform.compose_project}" in text
    assert "opsbook sandbox down" in text
