"""Verification badges on the rendered page (placeholder: the harness fills this in).

Contract with the MkDocs plugin: `load_results(project)` returns the last run's results
(or None when there was no run); `annotate_page(page, markdown, results)` returns the
Markdown the site shows, with each shell block's status and the page's summary added.
"""

from __future__ import annotations

from typing import Any

from opsbook.project import Project


def load_results(project: Project) -> Any | None:
    return None


def annotate_page(page: str, markdown: str, results: Any | None) -> str:
    return markdown
