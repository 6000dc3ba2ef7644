"""Adopting a doc set page by page: what is not adopted is listed, never run, never verified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsbook.cli import main
from opsbook.errors import OpsbookError
from opsbook.harness.model import BlockResult, RunResults
from opsbook.harness.reading.adopt import Adoption
from opsbook.harness.reading.plan import plan_pages
from opsbook.harness.reporting.badges import NOT_ADOPTED_NOTE, annotate_page
from opsbook.project import Project
from tests.helpers import build, replace_in


def test_entries_name_pages_folders_and_patterns() -> None:
    a = Adoption.from_option(["runbooks/", "deploy.md", "ops/*.md", "./legacy"])
    assert a.adopts("runbooks/x/y.md") and a.adopts("deploy.md") and a.adopts("ops/a.md")
    assert a.adopts("legacy/old.md")
    assert not a.adopts("runbooks.md") and not a.adopts("other/deploy.md")
    assert Adoption.from_option(None).adopts("anything.md")
    assert a.unmatched(["deploy.md", "ops/a.md"]) == ["runbooks/", "legacy"]
    with pytest.raises(OpsbookError, match="adopt must be a list of pages or folders"):
        Adoption.from_option([3])


def _adopt(project: Project, entries: str) -> None:
    replace_in(project.root / "mkdocs.yml", "  - opsbook\n",
               f"  - opsbook:\n      adopt: {entries}\n")


def test_pages_not_adopted_get_no_steps_and_do_not_fail_the_plan(project_copy: Project) -> None:
    _adopt(project_copy, "[scaling.md]")
    page = project_copy.docs_dir / "rollback.md"  # a problem on a page not adopted
    page.write_text(page.read_text() + "\n```bash\nkubectl get pods\n```\n")
    plan = plan_pages(project_copy)
    by_page = {p.page: p for p in plan.pages}
    assert by_page["scaling.md"].adopted and by_page["scaling.md"].steps
    assert not by_page["rollback.md"].adopted and by_page["rollback.md"].steps == []
    assert by_page["rollback.md"].scenarios == []
    assert not plan.problems  # rollback's kubectl is not the run's problem yet
    assert any("kubectl" in p.message for p in plan.not_adopted_problems)
    result = CliRunner().invoke(main, ["--project", str(project_copy.root),
                                       "blocks", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = [r for r in data["blocks"] if r["page"] == "rollback.md"]
    assert rows and {r["classification"] for r in rows} == {"not-adopted"}
    assert data["counts"]["not adopted"] == sum(
        r["counts"].get("shell blocks", 0) for r in data["pages"] if not r["adopted"])
    assert "not adopted: rollback.md:" in result.stderr


def test_an_adopt_entry_naming_no_page_is_a_problem(project_copy: Project) -> None:
    _adopt(project_copy, "[scaling.md, runbookz/]")
    assert [p.message for p in plan_pages(project_copy).problems] == [
        "plugins: opsbook: adopt: 'runbookz/' names no page under docs/"]


def test_a_page_not_adopted_is_never_marked_verified() -> None:
    text = "# Page\n\n```bash\necho hi\n```\n"
    from opsbook.harness.reading.extract import extract

    [block] = extract("p.md", text)[0]
    results = RunResults("abc1234", "2026-11-22T10:00:00+00:00",
                         [BlockResult("p.md", 3, "bash", "passed", digest=block.digest)],
                         state="complete")
    assert "✔ verified" in annotate_page("p.md", text, results)
    out = annotate_page("p.md", text, results, adopted=False)
    assert "verified</span>" not in out and "opsbook-mark" not in out
    assert NOT_ADOPTED_NOTE in out


def test_the_site_builds_strictly_with_adoption(project_copy: Project, tmp_path: Path) -> None:
    _adopt(project_copy, "[scaling.md]")
    result = build(project_copy, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "site" / "rollback" / "index.html").read_text()
    assert "this page is not adopted yet" in html
    assert "not adopted" not in (tmp_path / "site" / "scaling" / "index.html").read_text()
