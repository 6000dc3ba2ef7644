"""What the last verification run says, shown where a reader looks, readable in both schemes.

Contract with src/opsbook/harness/reporting/badges.py: a page summary `.opsbook-summary`
near the top; under each shell block a `.opsbook-mark` with one of `opsbook-passed`,
`opsbook-failed`, `opsbook-skipped`, `opsbook-skipped-destructive`, `opsbook-unverified`; a
failed mark holds `.opsbook-reason` with the failure message; a page with a failure opens
with a `failure` admonition linking to the failing block's section.
"""

from __future__ import annotations

from tests.browser.pagejs import CONTRAST, FIND_BLOCK, IN_SECTION, MARK_AFTER, set_scheme

VERIFICATION = ".opsbook-mark, .opsbook-badge, .opsbook-summary"
AA_NORMAL_TEXT = 4.5


def open_at(browsing, site, block):
    page = browsing.open(site.path_of(block.page))
    for title in block.tabs:  # show the tab it sits in (linked tabs: all of that label)
        page.locator(".tabbed-labels > label", has_text=title).first.click()
    index = page.evaluate(FIND_BLOCK, block.body)
    assert index >= 0, f"{block.id}: block not found on {page.url}"
    return page, index


def test_failed_block_shows_its_reason_inline(browsing, site):
    page, index = open_at(browsing, site, site.synthetic.failed)
    mark = page.evaluate(MARK_AFTER, index)
    assert mark, f"{site.synthetic.failed.id}: no .opsbook-mark after the block"
    assert "opsbook-failed" in mark["classes"], mark
    assert mark["shown"], "the failed mark is not on screen"
    assert mark["reason"] is not None, "the failed mark has no .opsbook-reason"
    assert site.synthetic.message in mark["reason"], mark["reason"]
    assert mark["reasonShown"], "the failure reason is hidden (a tooltip is not enough)"


def test_skipped_unverified_and_passed_blocks_are_marked(browsing, site):
    syn = site.synthetic
    skipped_reason = next(c.reason for p in site.plan.pages for b, c in p.shell
                          if b.id == syn.skipped.id)
    want_skipped = ("opsbook-skipped-destructive" if skipped_reason == "destructive"
                    else "opsbook-skipped")
    for block, want in ((syn.skipped, want_skipped), (syn.unverified, "opsbook-unverified")):
        page, index = open_at(browsing, site, block)
        mark = page.evaluate(MARK_AFTER, index)
        assert mark and want in mark["classes"], f"{block.id}: want {want}, mark {mark}"
        assert mark["shown"], f"{block.id}: its mark is not on screen"
    page = browsing.open(site.path_of(syn.failed.page))
    assert page.locator(".opsbook-mark.opsbook-passed").count(), "no passed mark on the page"


def test_page_summary_is_shown_near_the_top(browsing, site):
    page = browsing.open(site.path_of(site.synthetic.failed.page))
    summary = page.locator("article .opsbook-summary")
    assert summary.count() == 1, f"{summary.count()} .opsbook-summary in the article"
    assert summary.is_visible() and summary.inner_text().strip(), "the summary is not shown"
    near_top = page.evaluate("""() => {
      const s = document.querySelector('article .opsbook-summary');
      const first = document.querySelector('article h2, article .highlight');
      return !first || !!(s.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING);
    }""")
    assert near_top, "the summary comes after the first section or command"


def test_failure_admonition_links_to_the_failing_section(browsing, site):
    page, index = open_at(browsing, site, site.synthetic.failed)
    admonition = page.locator("article .admonition.failure")
    assert admonition.count(), "no failure admonition on a page with a failed block"
    assert admonition.first.is_visible()
    targets = [h.removeprefix("#") for h in admonition.first.locator('a[href^="#"]')
               .evaluate_all("els => els.map(e => e.getAttribute('href'))")]
    assert targets, "the failure admonition links to no section of the page"
    assert any(page.evaluate(IN_SECTION, [index, t]) for t in targets), (
        f"none of {targets} is the section of {site.synthetic.failed.id}")


def test_verification_marks_meet_wcag_aa_contrast_in_both_schemes(browsing, site):
    low, measured = [], 0
    for path in site.paths:
        page = browsing.open(path)
        for scheme in ("default", "slate"):
            set_scheme(page, scheme)
            for m in page.evaluate(CONTRAST, VERIFICATION):
                measured += 1
                if m["ratio"] < AA_NORMAL_TEXT:
                    low.append(f"{path} [{scheme}] {m['cls']} {m['text']!r}: "
                               f"{m['ratio']:.2f}:1 (fg {m['fg']} on bg {m['bg']})")
    assert measured, "no verification mark, badge or summary on the site"
    assert not low, f"below {AA_NORMAL_TEXT}:1:\n" + "\n".join(low)
