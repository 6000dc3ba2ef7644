"""Links: lychee finds no broken link or anchor in the built site (offline, fragments on)."""

from __future__ import annotations

import re
from pathlib import Path

from opsbook.links import check_links
from opsbook.project import Project
from tests.helpers import build


def test_built_site_has_no_broken_internal_links(repo_project: Project, tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert build(repo_project, site).returncode == 0
    result = check_links(site)
    assert result.returncode == 0, result.stdout + result.stderr
    # "no errors" only means something if lychee looked at links, anchors included
    total = re.search(r"Total\D+(\d+)", result.stdout)
    assert total and int(total.group(1)) > 50, result.stdout


def test_a_broken_anchor_is_caught(project_copy: Project, tmp_path: Path) -> None:
    page = project_copy.docs_dir / "index.md"
    page.write_text(page.read_text() + "\nSee [the void](monitoring.md#no-such-section).\n")
    site = tmp_path / "site"
    build(project_copy, site)  # mkdocs only warns on anchors (validation: warn) ...
    result = check_links(site)  # ... lychee is what fails
    assert result.returncode != 0
    assert "no-such-section" in result.stdout
