"""Every generated alert has a runbook section titled with its name, laid out as
Meaning / Impact / Diagnosis / Mitigation, and its runbook_url points at it; in the
built site's search index that section is the only one whose title names the alert, so
searching the alert name finds it first. Every fault's runbook is such a section too."""

from __future__ import annotations

import json
import re
from pathlib import Path

from opsbook.alerts.rules import alert_rows
from opsbook.facts import load_facts
from opsbook.project import Project
from opsbook.render import Renderer
from tests.helpers import build

ROOT = Path(__file__).resolve().parents[1]
FACTS = load_facts(ROOT / "facts")
PAGES = Renderer(Project(ROOT), FACTS).render_all()
LAYOUT = ("**Meaning.**", "**Impact.**", "**Diagnosis.**", "**Mitigation.**")


def section(target: str) -> tuple[str, str]:
    """(heading text, body) of the section `page.md#anchor` points at."""
    page, anchor = target.split("#")
    text = PAGES[page]
    heading = re.search(rf"^(#+) (.*) \{{ #{re.escape(anchor)} \}}$", text, re.MULTILINE)
    assert heading, f"{target}: no heading with that anchor"
    level = len(heading.group(1))
    rest = text[heading.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return heading.group(2), rest[: end.start() if end else len(rest)]


def test_every_alert_has_a_section_titled_with_its_name() -> None:
    for alert in alert_rows(FACTS):
        title, body = section(alert.runbook)
        assert f"`{alert.name}`" in title, (alert.name, title)
        for part in LAYOUT:
            assert part in body, f"{alert.runbook}: no {part}"
        assert alert.runbook_url.endswith(alert.runbook.replace(".md#", "/#"))


def test_every_fault_runbook_has_the_layout_and_no_visible_injection() -> None:
    for fault in FACTS.faults:
        _, body = section(fault.runbook)
        for part in LAYOUT[:3]:
            assert part in body, f"{fault.runbook}: no {part}"
        assert f"scenario={fault.id}" in body
    for page, text in PAGES.items():
        for cmd in ("|| true", "|| echo", "/admin/fault\" -X POST", "-X POST \"$API_URL/admin"):
            assert cmd not in text, f"{page}: {cmd!r} on a page"


def test_searching_an_alert_name_finds_its_runbook_first(project_copy: Project, tmp_path) -> None:
    site = tmp_path / "site"
    done = build(project_copy, site)
    assert done.returncode == 0, done.stderr
    docs = json.loads((site / "search" / "search_index.json").read_text())["docs"]
    for alert in alert_rows(FACTS):
        titled = [d["location"] for d in docs if alert.name in d["title"]]
        page, anchor = alert.runbook.split("#")
        assert titled == [f"{page.removesuffix('.md')}/#{anchor}"], (alert.name, titled)


def test_every_alert_is_fired_by_a_fault_and_every_troubleshooting_entry_has_one() -> None:
    """With each scenario required to pass (its alerts firing and delivered), this makes
    every alert appear in a passing scenario's fired alerts."""
    fired = {a for f in FACTS.faults for a in f.alerts}
    assert {a.name for a in alert_rows(FACTS)} <= fired
    anchors = re.findall(r"^## .* \{ #([a-z0-9-]+) \}$", PAGES["troubleshooting.md"], re.M)
    runbooks = {f.runbook for f in FACTS.faults}
    assert anchors and {f"troubleshooting.md#{a}" for a in anchors} <= runbooks
    assert len(FACTS.faults) >= 12
