"""Finding your way: environment tabs that follow you across pages, alerts found by name."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from opsbook.alerts.rules import alert_specs
from opsbook.facts import load_facts
from tests.browser.pagejs import search, tab_sets

ENV_LABELS = ["Sandbox", "Staging", "Production"]  # snippets/env-setup.md, one per environment
LABELS = re.compile(r'<div class="tabbed-labels">(.*?)</div>', re.DOTALL)
LABEL = re.compile(r"<label[^>]*>(.*?)</label>", re.DOTALL)
ON_SCREEN = "h => { const r = h.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight }"


def where(url: str) -> tuple[str, str]:
    """(path, anchor) of a URL: search adds `?h=terms` to highlight them, which is not
    where it goes."""
    parts = urlsplit(url)
    return parts.path, parts.fragment


def env_tab_pages(site) -> list[str]:
    """Pages with a tab set labelled exactly Sandbox / Staging / Production."""
    found = []
    for path in site.paths:
        html = (site.out / path.strip("/") / "index.html").read_text(encoding="utf-8")
        sets = [[re.sub(r"<[^>]+>", "", label).strip() for label in LABEL.findall(labels)]
                for labels in LABELS.findall(html)]
        if ENV_LABELS in sets:
            found.append(path)
    return found


def env_selected(page) -> str | None:
    sets = [s for s in tab_sets(page) if s["labels"] == ENV_LABELS]
    assert sets, f"{page.url}: no {ENV_LABELS} tab set"
    assert len({s["selected"] for s in sets}) == 1, f"{page.url}: env tabs disagree: {sets}"
    return sets[0]["selected"]


def test_environment_tabs_switch_and_stay_switched_across_pages(browsing, site):
    pages = env_tab_pages(site)
    assert len(pages) >= 2, (
        f"{ENV_LABELS} content tabs on {pages or 'no page'}: need two pages or more to "
        "check that a choice follows the reader (snippets/env-setup.md adds them)"
    )
    first, *others = pages
    page = browsing.open(first)
    assert env_selected(page) == "Sandbox"
    env_set = page.locator(".tabbed-set", has=page.locator(".tabbed-labels > label",
                                                           has_text="Production")).first
    env_set.locator(".tabbed-labels > label", has_text="Production").click()
    assert env_selected(page) == "Production"
    blocks = env_set.locator(":scope > .tabbed-content > .tabbed-block")
    assert blocks.nth(2).is_visible() and not blocks.nth(0).is_visible(), (
        "the Production tab is selected but its content is not the one shown")

    for path in others:
        page.goto(site.url + path)
        assert env_selected(page) == "Production", f"{path}: the choice did not follow"
    # and back: a choice made on another page holds on the first one
    page.locator(".tabbed-labels > label", has_text="Staging").first.click()
    page.goto(site.url + first)
    assert env_selected(page) == "Staging", f"{first}: the choice made on {others[-1]} was lost"
    assert not browsing.errors, "\n".join(browsing.errors)


def test_searching_an_alert_name_lands_on_its_runbook_section(browsing, site):
    specs = alert_specs(load_facts(site.root / "facts"))  # the alerts the rules generate
    assert specs, "the facts define no alerts"
    page = browsing.open("/")
    wrong = []
    landed: set[tuple[str, str]] = set()
    for spec in specs:
        runbook_page, _, anchor = spec.threshold.runbook.partition("#")
        want = (site.path_of(runbook_page), anchor)
        hits = search(page, spec.name)  # on whichever page the last one landed on
        best = max(range(len(hits)), key=lambda i: hits[i]["score"], default=None)
        got = None if best is None else where(hits[best]["href"])
        if got != want:
            wrong.append(f"{spec.name}: best result {got}, want {want}")
            continue
        if want in landed:  # following the same link again shows nothing new
            continue
        landed.add(want)
        page.locator(".md-search-result__item > .md-search-result__link").nth(best).click()
        page.wait_for_url(lambda url, want=want: where(url) == want)
        heading = page.locator(f"[id='{anchor}']")
        if spec.name not in heading.inner_text():
            wrong.append(f"{spec.name}: the section {want} does not name the alert")
        if not heading.evaluate(ON_SCREEN):
            wrong.append(f"{spec.name}: landed on {want} but its heading is not on screen")
    assert not wrong, "\n".join(wrong)
    assert not browsing.errors, "\n".join(browsing.errors)
