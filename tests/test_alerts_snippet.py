"""snippets/alert-drill.md: renders on the monitoring page, names real alerts, stays local."""

from __future__ import annotations

import re

import pytest

from opsbook.alerts.rules import alert_rows
from opsbook.facts import load_facts
from opsbook.project import Project, find_project
from opsbook.render import render_site


@pytest.fixture(scope="module")
def page() -> str:
    return render_site(find_project())["monitoring.md"]


def test_monitoring_page_includes_the_drill(page: str) -> None:
    assert "## Alert drill" in page


def test_drill_names_only_alerts_that_exist(page: str, repo_project: Project) -> None:
    drill = page[page.index("## Alert drill") :]
    named = set(re.findall(r"Opsbook[A-Z][A-Za-z0-9]*(?:Warning|Critical)", drill))
    assert named == {"OpsbookErrorRateCritical"}
    assert named <= {r.name for r in alert_rows(load_facts(repo_project.facts_dir))}


def test_drill_talks_to_localhost_only_and_is_bounded(page: str, repo_project: Project) -> None:
    drill = page[page.index("## Alert drill") :]
    facts = load_facts(repo_project.facts_dir)
    urls = re.findall(r"https?://[^\s'\"]+", drill)
    assert urls and all(u.startswith("http://127.0.0.1:") for u in urls), urls
    assert f"127.0.0.1:{facts.service('proxy').port}/admin/fault" in drill
    assert f"127.0.0.1:{facts.service('prometheus').port}/api/v1/alerts" in drill
    assert "<!-- opsbook: retry=240" in drill and "<!-- opsbook: teardown -->" in drill
    assert "while " not in drill  # every loop is a bounded `for ... in $(seq ...)`
