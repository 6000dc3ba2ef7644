"""A full-page screenshot of every page, light scheme, for people to look at (CI keeps
`.opsbook/screenshots/` as an artifact)."""

from __future__ import annotations

from tests.browser.pagejs import set_scheme, wait_for_diagrams


def test_screenshot_of_every_page(browsing, site, screenshots):
    for path in site.paths:
        shot = screenshots / f"{path.strip('/').replace('/', '-') or 'index'}.png"
        shot.unlink(missing_ok=True)  # an old file must not pass for a new one
        page = browsing.open(path)
        set_scheme(page, "default")
        wait_for_diagrams(page, site.diagrams(path))
        page.screenshot(path=str(shot), full_page=True)
        assert shot.is_file() and shot.stat().st_size > 0, f"{shot}: no screenshot"
