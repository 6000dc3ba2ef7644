"""A real-world doc set read as its own site renders it: the 56 Markdown pages of
pymdown-extensions' source distribution (content tabs, admonitions, blocks, blockquotes,
nested fences), vendored in tests/corpus/pymdown-extensions/ by
scripts/vendor-pymdown-corpus, rendered with that documentation's own extensions."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbook import sitefile
from opsbook.harness.reading.extract import read
from opsbook.harness.reading.site_markdown import SiteMarkdown, for_site
from tests.oracle import assert_agrees

ROOT = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "pymdown-extensions"
PAGES = sorted(ROOT.rglob("*.md"))


def site() -> SiteMarkdown:
    return for_site(sitefile.load(ROOT / "mkdocs.yml"))


@pytest.mark.parametrize("path", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_page_agrees_with_its_sites_rendering(path: Path) -> None:
    assert_agrees(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"), site())


def test_corpus_counts() -> None:
    """What the corpus exercises, so a re-vendored release that drops it is noticed."""
    assert len(PAGES) == 56
    assert not site().missing and site().preserve_tabs and site().quotes_logic
    blocks = text = quoted = shell = 0
    for path in PAGES:
        found = read(path.name, path.read_text(encoding="utf-8"), site())
        shown = [b for b in found.blocks if not b.hidden]
        blocks += len(shown)
        shell += sum(b.lang in ("bash", "sh", "shell", "console") for b in shown)
        quoted += sum(">" in b.indent for b in shown)
        text += len(found.as_text)
    assert (blocks, shell, quoted, text) == (424, 19, 4, 2)
