"""`opsbook test -j 2`: two sandboxes at once, each its own compose project and port
block, both removed at the end. Real sandboxes; no `sandbox` fixture (this test owns its
two and must not touch a shared one)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opsbook.facts import load_facts
from opsbook.facts.instances import VARIABLE, for_instance
from opsbook.project import Project
from opsbook.sandbox.lifecycle import leftovers

pytestmark = [pytest.mark.integration, pytest.mark.runs_last]
ROOT = Path(__file__).resolve().parents[2]


def page(n: int, project: str, proxy: int) -> str:
    return (
        f"# Instance page {n}\n\n"
        f'```console\n$ echo "$COMPOSE_PROJECT_NAME $PROXY_PORT"\n{project} {proxy}\n```\n\n'
        '```bash\ncurl -fsS "http://127.0.0.1:$PROXY_PORT/health/ready"\n'
        "docker compose ps --format '{{.Service}}' | grep -qx api\n```\n"
    )


def test_two_sandboxes_run_at_once_and_both_are_removed(project_copy: Project) -> None:
    # instances 1 and 2: instance 0 is the test session's shared sandbox, left alone
    # the real sandbox (its wheelhouse too: no download), with two pages of our own
    shutil.copytree(ROOT / "sandbox", project_copy.sandbox_dir)
    facts = load_facts(project_copy.facts_dir)
    instances = [for_instance(facts, k) for k in (1, 2)]
    for page_path in project_copy.docs_dir.rglob("*.md"):
        page_path.unlink()
    # equal pages split in name order: p0 -> sandbox 1, p1 -> sandbox 2
    for k, f in enumerate(instances):
        (project_copy.docs_dir / f"p{k}.md").write_text(
            page(k, f.platform.compose_project, f.service("proxy").port)
        )
    done = subprocess.run(
        [sys.executable, "-m", "opsbook", "--project", str(project_copy.root),
         "test", "-j", "2"],
        capture_output=True, text=True, timeout=1800,
        env={**os.environ, VARIABLE: "1"},
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "[1] sandbox: all 7 services healthy" in out and "[2] sandbox: all 7" in out, out
    data = json.loads((project_copy.state_dir / "results.json").read_text())
    assert sorted((b["page"], b["status"]) for b in data["blocks"]) == [
        ("p0.md", "passed"), ("p0.md", "passed"), ("p1.md", "passed"), ("p1.md", "passed")
    ]
    assert sorted(p["page"] for p in data["pages"]) == ["p0.md", "p1.md"]
    for f in instances:
        assert leftovers(f) == [], f.platform.compose_project
