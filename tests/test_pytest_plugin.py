"""The pytest plugin: the collector tree owns each page's shell session.

Runs a real `pytest --opsbook` in a subprocess on a copy of the project with one extra
page, and looks at the processes its blocks leave behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from opsbook.project import Project


def _processes_with(needle: str) -> list[str]:
    found = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmdline = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if needle in cmdline:
            found.append(f"{p.name}: {cmdline}")
    return found


def _pytest(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPSBOOK_PROJECT"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--opsbook",
         "--opsbook-project", str(project.root), "--rootdir", str(project.root), *args],
        cwd=project.root, capture_output=True, text=True, timeout=120, env=env,
    )


def test_k_selecting_one_block_still_closes_the_page(project_copy: Project) -> None:
    # A unique sleep length marks our background processes (and nothing else on the host).
    seconds = 600 + uuid.uuid4().int % 10_000
    (project_copy.docs_dir / "bg.md").write_text(
        "# Background\n\n"
        f"```bash\nsleep {seconds} &\nsetsid sleep {seconds} &\necho started\n```\n\n"
        "```bash\necho second block, deselected\n```\n"
    )
    done = _pytest(project_copy, "--opsbook-page", "bg.md", "-k", "bg.md:3", "-v")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 deselected" in done.stdout, done.stdout
    time.sleep(0.2)
    left = _processes_with(f"sleep {seconds}")
    assert not left, f"the page's session was not closed; left running: {left}"
    results = (project_copy.root / ".opsbook" / "results.json").read_text()
    assert '"state": "complete"' in results and '"line": 3' in results


def test_failing_block_reports_page_line_and_blocks_the_rest(project_copy: Project) -> None:
    (project_copy.docs_dir / "f.md").write_text(
        "# F\n\n```bash\necho one\nfalse\n```\n\n```bash\necho two\n```\n"
    )
    done = _pytest(project_copy, "--opsbook-page", "f.md", "-v")
    assert done.returncode == 1
    assert "f.md:5: exited 1 (expected 0): false" in done.stdout, done.stdout
    assert "1 failed, 1 skipped" in done.stdout, done.stdout


def test_each_scenario_is_one_item(project_copy: Project) -> None:
    done = _pytest(project_copy, "--opsbook-page", "troubleshooting.md", "--collect-only", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    items = [line.rsplit("::", 1)[-1] for line in done.stdout.splitlines() if "::" in line]
    scenarios = [i for i in items if "#" in i]
    assert "troubleshooting.md#high-error-rate" in scenarios
    assert "troubleshooting.md#api-not-ready" in scenarios
    assert len(scenarios) == len(set(scenarios)) >= 11
    # a scenario's blocks are not items of their own; the blocks outside them are
    blocks = [i for i in items if "#" not in i]
    assert blocks, items
    text = (project_copy.docs_dir / "troubleshooting.md").read_text()
    assert text.count("scenario=") > len(scenarios)  # several blocks per scenario


def test_a_page_run_to_its_end_is_recorded_for_changed_and_shard(
    project_copy: Project,
) -> None:
    """As after `opsbook test`: the page's record (its key and wall time) is what lets
    `--changed` reuse it and `--shard` balance by it; a page cut by -k gets none."""
    from opsbook.harness.reading.plan import plan_pages
    from opsbook.harness.reporting import store
    from opsbook.harness.reporting.keys import plan_keys

    (project_copy.docs_dir / "r.md").write_text(
        "# R\n\n```bash\nsleep 0.3\necho one\n```\n\n```bash\necho two\n```\n")
    done = _pytest(project_copy, "--opsbook-page", "r.md", "-k", "r.md:3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert store.load(project_copy.state_dir, "r.md") is None

    done = _pytest(project_copy, "--opsbook-page", "r.md")
    assert done.returncode == 0, done.stdout + done.stderr
    plan = plan_pages(project_copy, None, ["r.md"])
    key = plan_keys(plan.pages, plan.facts, project_copy.sandbox_dir)["r.md"]
    assert store.reusable(project_copy.state_dir, "r.md", key) is not None
    assert 0.3 <= (store.seconds(project_copy.state_dir, "r.md") or 0) < 60
