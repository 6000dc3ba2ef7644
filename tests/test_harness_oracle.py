"""Extraction agrees with Python-Markdown + the site's own extensions (mkdocs.yml).

The oracle renders a page to HTML and lists its <pre><code> blocks; our extractor must
find exactly those, in order, with the same text. Hidden blocks (inside HTML comments)
must not show on the page; fences the site does not render must be reported as problems.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbook import sitefile
from opsbook.harness.reading.extract import extract, read
from opsbook.harness.reading.site_markdown import SiteMarkdown, for_site
from tests.oracle import assert_agrees as _assert_agrees

ROOT = Path(__file__).resolve().parents[1]
CORPUS = sorted((ROOT / "tests" / "corpus").glob("*.md"))


def site() -> SiteMarkdown:
    """Exactly the site's configuration (mkdocs.yml): with Pygments off, superfences would
    reject options such as linenums="1" and render a different page than the site does."""
    return for_site(sitefile.load(ROOT / "mkdocs.yml"))


def assert_agrees(page: str, text: str) -> None:
    _assert_agrees(page, text, site())


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_agrees_with_python_markdown(path: Path) -> None:
    assert_agrees(path.name, path.read_text())


def test_site_pages_agree_with_python_markdown() -> None:
    from opsbook.facts import load_facts
    from opsbook.project import Project
    from opsbook.render import render_site

    project = Project(ROOT)
    pages = render_site(project, load_facts(project.facts_dir))
    assert pages, "no pages rendered"
    for page, text in pages.items():
        assert_agrees(page, text)


def test_corpus_covers_every_container() -> None:
    blocks, problems = extract("c.md", (ROOT / "tests/corpus/containers.md").read_text(), site())
    assert not problems
    assert [b.body for b in blocks] == [
        "echo top",
        "echo tilde",
        "echo in-admonition",
        "$ echo in-details\nin-details",
        "echo compose-tab",
        "kubectl get pods",
        "echo in-list",
        "echo nested",
        "echo options",
    ]
    assert blocks[5].tabs == ("Kubernetes",)
    assert blocks[1].fence == "~~~~" and blocks[1].lang == "sh"


def test_unclosed_and_abandoned_fences_are_reported_not_dropped() -> None:
    blocks, problems = extract("u.md", (ROOT / "tests/corpus/unclosed.md").read_text(), site())
    assert [b.body for b in blocks] == ["echo fine"]
    assert any(str(p).startswith("u.md:9: fence abandoned at line 11") for p in problems), problems
    # Like superfences, the abandoned lines are not rescanned: line 12's fence opens and is
    # abandoned at 14, so "```sh" there never opens. Still: every fence yields a problem.
    assert any(str(p).startswith("u.md:12: fence abandoned at line 14") for p in problems), problems
    assert len(problems) == 2


def test_fences_in_blockquotes_are_blocks_and_leaving_the_quote_abandons_one() -> None:
    found = read("q.md", (ROOT / "tests/corpus/blockquotes.md").read_text(), site())
    assert [(b.lang, b.body, b.indent) for b in found.blocks] == [
        ("bash", "echo quoted", "> "),
        ("console", "$ echo deep\n\ndeep", "> > "),
        ("sh", "echo in-list-quote", "    > "),
        ("bash", "echo after", ""),
    ]
    [text] = found.as_text
    assert (text.line, text.lang) == (29, "bash")
    assert [str(p) for p in found.problems] == [
        "q.md:29: fence abandoned at line 31, which is out of the opening fence's blockquote; "
        "the site shows these lines as plain text"
    ]


def test_info_strings_the_site_refuses_are_rendered_as_text_not_run() -> None:
    found = read("t.md", (ROOT / "tests/corpus/legacy_tabs.md").read_text(), site())
    assert [(t.line, t.lang) for t in found.as_text] == [(6, "bash"), (16, "bash")]
    assert all(t.why.startswith("rendered as text: ") for t in found.as_text)
    assert {p.block_id for p in found.problems} == {"t.md:6", "t.md:16"}
    # what the site shows instead: a plain block holding the next fence's opening line
    # (line 8's closing fence opens it), then the options it accepts
    assert [(b.line, b.lang) for b in found.blocks] == [(8, ""), (18, ""), (26, "bash"),
                                                       (30, "bash")]
    assert not any("kubectl" in b.body and b.lang == "bash" for b in found.blocks)


def test_hard_tabs_are_kept_for_execution() -> None:
    blocks, problems = extract("tabs.md", (ROOT / "tests/corpus/tabs.md").read_text(), site())
    assert not problems
    assert [b.body for b in blocks] == [
        "cat <<-EOF\n\thello\n\tEOF",  # <<- strips these tabs in the shell
        'printf "a\\tb\\n"\n\tindented-by-tab',  # the fence's 4 columns off, the tab kept
    ]


def test_a_site_that_preserves_tabs_shows_them_and_extraction_agrees(tmp_path: Path) -> None:
    yml = tmp_path / "mkdocs.yml"
    yml.write_text("site_name: t\nmarkdown_extensions:\n  - pymdownx.superfences:\n"
                   "      preserve_tabs: true\n  - pymdownx.highlight\n")
    tabbed = for_site(sitefile.load(yml))
    assert tabbed.preserve_tabs and not site().preserve_tabs
    _assert_agrees("tabs.md", (ROOT / "tests/corpus/tabs.md").read_text(), tabbed)
