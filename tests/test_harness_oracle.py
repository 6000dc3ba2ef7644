"""Extraction agrees with Python-Markdown + the site's own extensions (mkdocs.yml).

The oracle renders a page to HTML and lists its <pre><code> blocks; our extractor must
find exactly those, in order, with the same text. Hidden blocks (inside HTML comments)
must not show on the page; fences the site does not render must be reported as problems.
"""

from __future__ import annotations

import html
import importlib
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest
import yaml

from opsbook.harness.reading.extract import extract

ROOT = Path(__file__).resolve().parents[1]
CORPUS = sorted((ROOT / "tests" / "corpus").glob("*.md"))


class _Loader(yaml.SafeLoader):
    pass


def _python_name(loader: yaml.Loader, suffix: str, node: yaml.Node):
    module, _, attr = suffix.rpartition(".")
    return getattr(importlib.import_module(module), attr)


_Loader.add_multi_constructor("tag:yaml.org,2002:python/name:", _python_name)


def site_extensions() -> tuple[list[str], dict[str, dict]]:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)
    names: list[str] = []
    configs: dict[str, dict] = {}
    for ext in config["markdown_extensions"]:
        if isinstance(ext, dict):
            ((name, cfg),) = ext.items()
            names.append(name)
            configs[name] = dict(cfg or {})
        else:
            names.append(ext)
    # Exactly the site's configuration: with Pygments off, superfences would reject
    # options such as linenums="1" and render a different page than the site does.
    return names, configs


class _Codes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.codes: list[str] = []
        self._in: list[str] | None = None
        self._pre = 0

    def handle_starttag(self, tag, attrs):
        if tag == "pre":
            self._pre += 1
        elif tag == "code" and self._pre:
            self._in = []

    def handle_endtag(self, tag):
        if tag == "code" and self._in is not None:
            self.codes.append(html.unescape("".join(self._in)).rstrip("\n"))
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


def rendered_codes(text: str) -> list[str]:
    names, configs = site_extensions()
    parser = _Codes()
    parser.feed(markdown.markdown(text, extensions=names, extension_configs=configs))
    return parser.codes


def assert_agrees(page: str, text: str) -> None:
    blocks, _problems = extract(page, text)
    ours = [b.body.rstrip("\n") for b in blocks if not b.hidden]
    assert ours == rendered_codes(text), f"{page}: extraction disagrees with the site render"


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
    blocks, problems = extract("c.md", (ROOT / "tests/corpus/containers.md").read_text())
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
    blocks, problems = extract("u.md", (ROOT / "tests/corpus/unclosed.md").read_text())
    assert [b.body for b in blocks] == ["echo fine"]
    assert any(str(p).startswith("u.md:9: fence abandoned at line 11") for p in problems), problems
    # Like superfences, the abandoned lines are not rescanned: line 12's fence opens and is
    # abandoned at 14, so "```sh" there never opens. Still: every fence yields a problem.
    assert any(str(p).startswith("u.md:12: fence abandoned at line 14") for p in problems), problems
    assert len(problems) == 2
