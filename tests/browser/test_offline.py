"""Every page works from the site alone: no other host, no console error, search works."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.browser.pagejs import search, wait_for_diagrams

ROOT = Path(__file__).resolve().parents[2]

VENDORED_MERMAID = "/javascripts/vendor/mermaid.min.js"


def test_every_page_works_with_every_other_host_blocked(browsing, site):
    """Loads with no console error and nothing asked of another host; diagrams render;
    search answers (Material's scripts stop when a CDN load fails, search first)."""
    no_results = []
    for path in site.paths:
        page = browsing.open(path)
        wait_for_diagrams(page, site.diagrams(path))
        if not search(page, "rollback"):
            no_results.append(path)
    assert not browsing.foreign, "requests to other hosts (aborted):\n" + "\n".join(
        browsing.foreign)
    assert not browsing.errors, "\n".join(browsing.errors)
    assert not no_results, f"search found nothing for 'rollback' on {no_results}"


def test_mermaid_comes_from_the_site_and_only_where_a_diagram_is(browsing, site):
    with_diagrams = {p: n for p in site.paths if (n := site.diagrams(p))}
    assert with_diagrams, "no page has a Mermaid diagram: nothing to check"
    without = next(p for p in site.paths if p not in with_diagrams)
    for path in [*with_diagrams, without]:
        page = browsing.open(path)
        wait_for_diagrams(page, with_diagrams.get(path, 0))
        loaded = page.evaluate(
            "() => performance.getEntriesByType('resource').map(e => e.name)"
        )
        fetched = any(u.endswith(VENDORED_MERMAID) for u in loaded)
        assert fetched == (path in with_diagrams), f"{path}: loaded Mermaid: {fetched}"
        heights = page.eval_on_selector_all(
            "div.mermaid", "els => els.map(e => e.getBoundingClientRect().height)"
        )
        assert all(h > 40 for h in heights), f"{path}: a diagram rendered empty: {heights}"
    assert not browsing.errors, "\n".join(browsing.errors)


def test_vendored_mermaid_is_the_pinned_release():
    """The file the site serves is the one scripts/vendor-mermaid pins (sha256), unedited."""
    done = subprocess.run(["bash", str(ROOT / "scripts" / "vendor-mermaid"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
