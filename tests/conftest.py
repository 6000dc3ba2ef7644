"""Shared fixtures: a throwaway copy of the project that tests may edit freely."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from opsbook.project import Project

ROOT = Path(__file__).resolve().parents[1]
# What a page build needs; the sandbox and state are left out on purpose.
PROJECT_PARTS = ("mkdocs.yml", "facts", "docs", "snippets")


@pytest.fixture
def project_copy(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    for part in PROJECT_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, root / part)
        else:
            shutil.copy2(src, root / part)
    return Project(root)


@pytest.fixture
def repo_project() -> Project:
    return Project(ROOT)



def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`runs_last` tests go after everything else, the site's own blocks included: they
    load the machine so hard (two more sandboxes beside the shared one) that a timing
    test right after them saw unhealthy replicas and slow alerts."""
    last = [i for i in items if i.get_closest_marker("runs_last")]
    if last:
        items[:] = [i for i in items if not i.get_closest_marker("runs_last")] + last
