"""The oracle: what Python-Markdown, with a site's own extensions, renders as code blocks.

A page is rendered to HTML with exactly the extensions and configs the site loads (its
mkdocs.yml, MkDocs' built-ins first); every `<pre><code>` is a code block the site shows,
with its language from the highlighter's `language-X` class. Extraction must find the
same blocks, in order, with the same text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from html.parser import HTMLParser

import markdown

from opsbook.harness.model import SHELL_LANGS, Block
from opsbook.harness.reading.extract import read, site_view
from opsbook.harness.reading.site_markdown import SiteMarkdown


@dataclass(frozen=True)
class Code:
    lang: str
    text: str


class _Codes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.codes: list[Code] = []
        self._in: list[str] | None = None
        self._lang = ""
        self._pre = 0
        self._classes: list[str] = []  # class attribute of each open element

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag not in ("br", "img", "input", "hr", "wbr"):
            self._classes.append(cls)
        if tag == "pre":
            self._pre += 1
        elif tag == "code" and self._pre:
            self._in = []
            self._lang = next(
                (c.removeprefix("language-") for classes in reversed(self._classes)
                 for c in classes.split() if c.startswith("language-")), "")

    def handle_endtag(self, tag):
        if tag not in ("br", "img", "input", "hr", "wbr") and self._classes:
            self._classes.pop()
        if tag == "code" and self._in is not None:
            self.codes.append(Code(self._lang.lower(), html.unescape("".join(self._in))))
            self._in = None
        elif tag == "pre":
            self._pre -= 1

    def handle_data(self, data):
        if self._in is not None:
            self._in.append(data)

    def handle_entityref(self, name):
        if self._in is not None:
            self._in.append(f"&{name};")

    def handle_charref(self, name):
        if self._in is not None:
            self._in.append(f"&#{name};")


def render(text: str, site: SiteMarkdown) -> str:
    # One change to the site's configuration: the highlighter names each block's language
    # in a class (`pygments_lang_class`), which changes no block, only the HTML around it.
    configs = {k: dict(v) for k, v in site.site.configs.items()}
    configs.setdefault("pymdownx.highlight", {})["pygments_lang_class"] = True
    md = markdown.Markdown(extensions=list(site.site.extensions), extension_configs=configs)
    return md.convert(text)


def rendered_codes(text: str, site: SiteMarkdown) -> list[Code]:
    parser = _Codes()
    parser.feed(render(text, site))
    return parser.codes


def _norm(text: str) -> str:
    # the highlighter drops leading and trailing blank lines (Pygments' stripnl)
    return text.strip("\n")


def shown_blocks(page: str, text: str, site: SiteMarkdown) -> list[Block]:
    """The blocks extraction finds, with bodies as the site shows them (tabs expanded
    unless superfences preserves them); hidden blocks left out."""
    return [b for b in read(page, site_view(text, site), site).blocks if not b.hidden]


@dataclass(frozen=True)
class Agreement:
    ours: list[Code]
    theirs: list[Code]

    @property
    def shell_ours(self) -> list[Code]:
        return [c for c in self.ours if c.lang in SHELL_LANGS]

    @property
    def shell_theirs(self) -> list[Code]:
        return [c for c in self.theirs if c.lang in SHELL_LANGS]


_SHOWS_CODE: dict[tuple[int, str], bool] = {}


def shows_code(lang: str, site: SiteMarkdown) -> bool:
    """Whether a fence of `lang` renders as `<pre><code>` on this site: a custom fence may
    render as something else (a formula, a diagram container)."""
    key = (id(site), lang)
    if key not in _SHOWS_CODE:
        _SHOWS_CODE[key] = bool(rendered_codes(f"```{lang}\nx\n```\n", site))
    return _SHOWS_CODE[key]


def compare(page: str, text: str, site: SiteMarkdown) -> Agreement:
    ours = [Code(b.lang, _norm(b.body)) for b in shown_blocks(page, text, site)
            if shows_code(b.lang, site)]
    theirs = [Code(c.lang, _norm(c.text)) for c in rendered_codes(text, site)]
    return Agreement(ours, theirs)


def assert_agrees(page: str, text: str, site: SiteMarkdown) -> Agreement:
    """Every code block the site shows, in order, with its text (languages aside: a
    custom fence shows its own class); and every shell block with its language."""
    a = compare(page, text, site)
    assert [c.text for c in a.ours] == [c.text for c in a.theirs], (
        f"{page}: extraction disagrees with the site render")
    assert a.shell_ours == a.shell_theirs, f"{page}: shell blocks disagree"
    return a
