"""The plan cache: a page read before is not read again, unless anything it depends on
changed (its text, the facts' forbidden targets or faults, the site's Markdown, adoption)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbook.harness.inventory import block_rows, summary
from opsbook.harness.reading import plan as plan_mod
from opsbook.harness.reading.plan import plan_pages
from opsbook.project import Project
from tests.helpers import replace_in


def _listing(project: Project) -> tuple[list, dict, list[str]]:
    plan = plan_pages(project)
    return (block_rows(plan.pages), summary(plan.pages),
            sorted(str(p) for p in plan.problems + plan.not_adopted_problems))


def _read_again(project: Project, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The pages plan_pages reads (extracts and classifies) instead of taking from the cache."""
    read: set[str] = set()
    real = plan_mod.read_page

    def spy(page, *args, **kwargs):
        read.add(page)
        return real(page, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(plan_mod, "read_page", spy)
        plan_pages(project)
    return read


def test_a_warm_plan_is_the_cold_plan(project_copy: Project, monkeypatch) -> None:
    cold = _listing(project_copy)
    assert _read_again(project_copy, monkeypatch) == set()
    assert _listing(project_copy) == cold


def test_runbook_link_problems_are_checked_on_every_run(project_copy: Project) -> None:
    """They span pages (facts/faults.yml names a section): never cached with a page."""
    replace_in(project_copy.facts_dir / "faults.yml", "runbook: troubleshooting.md#high-",
               "runbook: troubleshooting.md#xhigh-")
    first = _listing(project_copy)[2]
    assert any("make them agree" in p for p in first)
    assert _listing(project_copy)[2] == first


def test_an_edited_page_is_read_again(project_copy: Project, monkeypatch) -> None:
    plan_pages(project_copy)
    replace_in(project_copy.docs_dir / "scaling.md", "```bash", "```bash title=\"x\"")
    assert _read_again(project_copy, monkeypatch) == {"scaling.md"}


def test_a_forbidden_target_added_to_the_facts_reclassifies(
    project_copy: Project, monkeypatch
) -> None:
    plan_pages(project_copy)
    pages = {p.page for p in plan_pages(project_copy).pages}
    replace_in(project_copy.facts_dir / "environments.yml", "api.staging.opsbook.example",
               "api.staging2.opsbook.example")
    assert _read_again(project_copy, monkeypatch) == pages  # what every block must not name


def test_a_changed_fault_list_rereads(project_copy: Project, monkeypatch) -> None:
    plan_pages(project_copy)
    faults = project_copy.facts_dir / "faults.yml"
    replace_in(faults, "  - id: api-memory", "  - id: api-memory-renamed")
    read = _read_again(project_copy, monkeypatch)
    assert read, "a scenario naming a fault that is gone must be reported"
    problems = _listing(project_copy)[2]
    assert any("scenario=api-memory: no such fault" in p for p in problems)


def test_the_site_markdown_configuration_is_part_of_the_key(
    project_copy: Project, monkeypatch
) -> None:
    pages = {p.page for p in plan_pages(project_copy).pages}
    mkdocs = project_copy.root / "mkdocs.yml"
    replace_in(mkdocs, "markdown_extensions:\n", "markdown_extensions:\n  - pymdownx.caret\n")
    assert _read_again(project_copy, monkeypatch) == pages


def test_adoption_is_part_of_the_key(project_copy: Project, monkeypatch) -> None:
    plan_pages(project_copy)
    replace_in(project_copy.root / "mkdocs.yml", "  - opsbook\n",
               "  - opsbook:\n      adopt: [scaling.md]\n")
    read = _read_again(project_copy, monkeypatch)
    assert "scaling.md" not in read and "deployment.md" in read
    rows = block_rows(plan_pages(project_copy).pages)
    assert {r["adopted"] for r in rows if r["page"] == "deployment.md"} == {False}


def test_a_damaged_plan_cache_is_ignored(project_copy: Project, monkeypatch) -> None:
    cold = _listing(project_copy)
    cache_file = project_copy.state_dir / "plan-cache.pickle"
    cache_file.write_bytes(b"\x80\x04 not a pickle")
    assert _listing(project_copy) == cold
    assert _read_again(project_copy, monkeypatch) == set()  # and it was written anew


def test_files_given_as_paths_are_not_cached(project_copy: Project, tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("# P\n\n```bash\necho hi\n```\n")
    plan_pages(None, [page])
    assert not (tmp_path / ".opsbook").exists()
