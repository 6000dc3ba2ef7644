"""`opsbook test --changed`, `--shard`, `--results` and `opsbook results merge|import`,
through the real CLI on a copy of the project whose pages need no sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opsbook.project import Project
from tests.helpers import replace_in

PAGES = {
    # each reads one fact, or none
    "a.md": "# A\n\n```bash\necho channel {{{ contacts.channels.incident }}}\n```\n",
    "b.md": "# B\n\n```bash\necho database {{{ platform.database.name }}}\n```\n",
    "c.md": "# C\n\n```bash\necho plain\n```\n",
}


@pytest.fixture
def small(project_copy: Project) -> Project:
    for page in project_copy.docs_dir.rglob("*.md"):
        page.unlink()
    for name, text in PAGES.items():
        (project_copy.docs_dir / name).write_text(text)
    return project_copy


def opsbook(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "opsbook", "--project", str(project.root), *args],
        capture_output=True, text=True, timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def results(project: Project, name: str = "results.json") -> dict:
    return json.loads((project.state_dir / name).read_text())


def ran(data: dict) -> set[str]:
    return {p["page"] for p in data["pages"] if not p["reused"]}


def test_changed_runs_only_pages_whose_key_changed(small: Project) -> None:
    first = opsbook(small, "test", "--no-sandbox")
    assert first.returncode == 0, first.stdout + first.stderr
    one = results(small)
    assert ran(one) == {"a.md", "b.md", "c.md"}

    again = opsbook(small, "test", "--no-sandbox", "--changed")
    assert again.returncode == 0, again.stdout
    assert "0 of 3 pages to run" in again.stdout
    two = results(small)
    assert ran(two) == set()
    # still verified, dated by the run that really ran them
    assert {p["time"] for p in two["pages"]} == {one["time"]}
    assert {b["status"] for b in two["blocks"]} == {"passed"} and len(two["blocks"]) == 3

    (small.docs_dir / "c.md").write_text(PAGES["c.md"].replace("plain", "edited"))
    assert opsbook(small, "test", "--no-sandbox", "--changed").returncode == 0
    assert ran(results(small)) == {"c.md"}

    platform = small.facts_dir / "platform.yml"
    text = platform.read_text()
    assert "  database:\n    name: opsbook\n" in text
    platform.write_text(text.replace("  database:\n    name: opsbook\n",
                                     "  database:\n    name: jobsdb\n"))
    assert opsbook(small, "test", "--no-sandbox", "--changed").returncode == 0
    assert ran(results(small)) == {"b.md"}  # the one page that reads it

    replace_in(platform, "  short_name: opsbook\n", "  short_name: jobs\n")
    assert opsbook(small, "test", "--no-sandbox", "--changed").returncode == 0
    assert ran(results(small)) == set()  # a fact no page reads


def test_a_failed_page_is_run_again_even_when_unchanged(small: Project) -> None:
    (small.docs_dir / "c.md").write_text("# C\n\n```bash\nfalse\n```\n")
    assert opsbook(small, "test", "--no-sandbox").returncode == 1
    again = opsbook(small, "test", "--no-sandbox", "--changed")
    assert again.returncode == 1
    assert ran(results(small)) == {"c.md"}


def test_merged_shards_equal_a_single_run(small: Project) -> None:
    assert opsbook(small, "test", "--no-sandbox").returncode == 0
    single = results(small)
    parts = []
    for i in (1, 2):
        out = small.root / f"shard{i}.json"
        done = opsbook(small, "test", "--no-sandbox", "--shard", f"{i}/2", "--results", str(out))
        assert done.returncode == 0, done.stdout + done.stderr
        parts.append(out)
    shard_pages = [{p["page"] for p in json.loads(f.read_text())["pages"]} for f in parts]
    assert shard_pages[0] and shard_pages[1] and not shard_pages[0] & shard_pages[1]
    merged_path = small.root / "merged.json"
    done = opsbook(small, "results", "merge", *map(str, parts), "-o", str(merged_path))
    assert done.returncode == 0, done.stdout + done.stderr
    merged = json.loads(merged_path.read_text())

    def view(data: dict) -> list[tuple]:
        return sorted((b["page"], b["line"], b["status"], b["digest"]) for b in data["blocks"])

    assert view(merged) == view(single)
    assert {p["page"]: p["key"] for p in merged["pages"]} == {
        p["page"]: p["key"] for p in single["pages"]
    }


def test_imported_results_make_changed_skip_those_pages(small: Project, tmp_path: Path) -> None:
    # another machine's run (a CI artifact): same content, so the same keys
    other = tmp_path / "ci"
    done = opsbook(small, "test", "--no-sandbox", "--results", str(other / "r.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (small.state_dir / "pages").exists()  # --results keeps the store alone
    done = opsbook(small, "results", "import", str(other / "r.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    again = opsbook(small, "test", "--no-sandbox", "--changed")
    assert "0 of 3 pages to run" in again.stdout, again.stdout


@pytest.mark.parametrize("shard", ["0/2", "3/2", "x", "1/0"])
def test_a_bad_shard_is_one_line(small: Project, shard: str) -> None:
    done = opsbook(small, "test", "--no-sandbox", "--shard", shard)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: --shard {shard}: write it as I/N with 1 <= I <= N, for example --shard 1/2"
    ]


def test_importing_something_that_is_not_results_is_one_line(
    small: Project, tmp_path: Path
) -> None:
    bad = tmp_path / "r.json"
    bad.write_text("{not json")
    done = opsbook(small, "results", "import", str(bad))
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {bad}: not an opsbook results file")
