"""JavaScript the browser tests evaluate in a page, and small page actions they share."""

from __future__ import annotations

from typing import Any

# The <code> of the fenced block whose text is `body` (the block as the harness reads it):
# its index among `.highlight code` elements, or -1.
FIND_BLOCK = """body => {
  const codes = [...document.querySelectorAll('.highlight code')];
  return codes.findIndex(c => c.textContent.replace(/\\n$/, '') === body);
}"""

# The first `.opsbook-mark` after the block's code in document order: its classes, whether
# it is on screen, and the text of its `.opsbook-reason` (null when it has none).
MARK_AFTER = """index => {
  const code = document.querySelectorAll('.highlight code')[index];
  const mark = [...document.querySelectorAll('.opsbook-mark')].find(
    m => code.compareDocumentPosition(m) & Node.DOCUMENT_POSITION_FOLLOWING);
  if (!mark) return null;
  const reason = mark.querySelector('.opsbook-reason');
  const shown = el => !!el && el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== 'hidden';
  return {classes: [...mark.classList], shown: shown(mark),
          reason: reason ? reason.innerText : null, reasonShown: shown(reason)};
}"""

# Whether the block lies in the section of the heading with id `target`: the heading comes
# before it, with no heading of the same or a higher level in between.
IN_SECTION = """([index, target]) => {
  const code = document.querySelectorAll('.highlight code')[index];
  const heading = document.getElementById(target);
  if (!heading || !/^H[1-6]$/.test(heading.tagName)) return false;
  const before = (a, b) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
  if (!before(heading, code)) return false;
  const level = +heading.tagName[1];
  return ![...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].some(
    h => +h.tagName[1] <= level && before(heading, h) && before(h, code));
}"""

# Contrast of every element matching `selector` and of each descendant with text of its
# own, in the current colour scheme. Colours go through a canvas, so whatever syntax the
# browser computes (rgb, color(), oklch) comes out as sRGB bytes. The background is the
# element's own or, where that is transparent, its ancestors', composited bottom-up.
CONTRAST = """selector => {
  const ctx = document.createElement('canvas').getContext('2d', {willReadFrequently: true});
  const rgba = css => {
    ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = '#000'; ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
  };
  const over = (top, below) => top.slice(0, 3).map(
    (c, i) => c * top[3] + below[i] * (1 - top[3])).concat([1]);
  const background = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reverse().reduce((below, top) => over(top, below), [255, 255, 255, 1]);
  };
  const lum = c => {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const out = [];
  for (const root of document.querySelectorAll(selector)) {
    for (const el of [root, ...root.querySelectorAll('*')]) {
      const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
      if (!own) continue;
      const bg = background(el);
      const fg = over(rgba(getComputedStyle(el).color), bg);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      out.push({text: el.textContent.trim().slice(0, 60), cls: root.className,
                ratio: (hi + 0.05) / (lo + 0.05),
                fg: fg.slice(0, 3).map(Math.round), bg: bg.slice(0, 3).map(Math.round)});
    }
  }
  return out;
}"""


def set_scheme(page: Any, scheme: str) -> None:
    """Material's light (`default`) or dark (`slate`) scheme, as its toggle sets it. Returns
    once the colours have settled: Material's colour transitions would otherwise be measured
    halfway (getAnimations() also starts the transitions the change causes)."""
    page.evaluate("""async s => {
      document.body.setAttribute('data-md-color-scheme', s);
      await Promise.all(document.getAnimations()
        .filter(a => isFinite(a.effect ? a.effect.getComputedTiming().endTime : Infinity))
        .map(a => a.finished.catch(() => null)));
    }""", scheme)


def wait_for_diagrams(page: Any, count: int) -> None:
    """Material replaces each `<pre class="mermaid">` with a rendered `<div class="mermaid">`."""
    if count:
        page.wait_for_function(
            "n => document.querySelectorAll('div.mermaid').length >= n", arg=count
        )


def search(page: Any, query: str, timeout: float = 10_000) -> list[dict[str, Any]]:
    """Type `query` into Material's search box: each result link with its score (Material's
    `data-md-score`), in the order shown; none when no result came within `timeout` ms."""
    # results of an earlier query on this page must not pass for this one's: Material draws
    # new list items for each query, so wait for an item not marked as old
    page.eval_on_selector_all(".md-search-result__item",
                              "els => els.forEach(e => e.dataset.old = '')")
    box = page.locator(".md-search__input")
    box.click()
    # the whole query at once, then a key that changes nothing: Material searches on keydown,
    # and typing letter by letter could leave us reading the results of a prefix
    box.fill(query)
    box.press("End")
    try:
        page.locator(".md-search-result__item:not([data-old])").first.wait_for(
            state="attached", timeout=timeout)
    except Exception as e:  # playwright's TimeoutError (imported lazily, see conftest.py)
        if type(e).__name__ != "TimeoutError":
            raise
        return []
    return page.eval_on_selector_all(".md-search-result__item > .md-search-result__link", """
      els => els.map(e => ({href: e.href, score: +e.firstElementChild.dataset.mdScore}))""")


def tab_sets(page: Any) -> list[dict[str, Any]]:
    """Each content-tab set of the page: its labels, and the label selected now."""
    return page.evaluate("""() => [...document.querySelectorAll('.tabbed-set')].map(set => {
      const labels = [...set.querySelectorAll(':scope > .tabbed-labels > label')];
      const checked = set.querySelector(':scope > input:checked');
      const selected = labels.find(l => checked && l.htmlFor === checked.id);
      return {labels: labels.map(l => l.innerText.trim()),
              selected: selected ? selected.innerText.trim() : null};
    })""")
