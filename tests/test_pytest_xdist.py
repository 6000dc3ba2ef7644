"""`pytest --opsbook -n 2 --dist loadscope`: pages spread over two workers, each page's
blocks on one worker (they share a shell session), the workers' results merged."""

from __future__ import annotations

import json
import subprocess
import sys

from opsbook.project import Project

STATEFUL = "```bash\nexport STEP=1\n```\n\n```bash\ntest \"$STEP\" = 1\n```\n"


def run_pytest(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--opsbook", "--opsbook-project", str(project.root),
         "-p", "no:cacheprovider", "-q", *args],
        cwd=project.root, capture_output=True, text=True, timeout=300,
    )


def test_pages_spread_over_workers_and_their_results_merge(project_copy: Project) -> None:
    for page in project_copy.docs_dir.rglob("*.md"):
        page.unlink()
    pages = [f"p{i}.md" for i in range(6)]
    for name in pages:
        (project_copy.docs_dir / name).write_text(f"# {name}\n\n" + STATEFUL)
    alone = run_pytest(project_copy)
    assert alone.returncode == 0, alone.stdout[-3000:]
    done = run_pytest(project_copy, "-n", "2", "--dist", "loadscope")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    state = project_copy.state_dir
    parts = [json.loads((state / f"results-gw{k}.json").read_text()) for k in (0, 1)]
    seen = [{b["page"] for b in part["blocks"]} for part in parts]
    assert seen[0] and seen[1] and not seen[0] & seen[1]  # both worked, no page split
    merged = json.loads((state / "results.json").read_text())
    assert sorted((b["page"], b["status"]) for b in merged["blocks"]) == sorted(
        (p, "passed") for p in pages for _ in range(2)
    )


def test_without_loadscope_a_page_could_be_split_so_it_is_refused(
    project_copy: Project,
) -> None:
    done = run_pytest(project_copy, "-n", "2")
    assert done.returncode == 4, done.stdout + done.stderr  # usage error
    assert "needs --dist loadscope" in done.stderr + done.stdout
