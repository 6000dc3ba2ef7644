"""Backstage TechDocs: a site under the `techdocs-core` plugin renders with that plugin's
extension set (mdx_truly_sane_lists among them: list items nest code by 2 columns, not 4).
Extraction agrees with that rendering, and the verification marks need no JavaScript
(TechDocs strips scripts)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from opsbook import sitefile
from opsbook.harness.model import BlockResult, RunResults
from opsbook.harness.reading.extract import read
from opsbook.harness.reading.plan import plan_pages
from opsbook.harness.reading.site_markdown import SiteMarkdown, for_site
from opsbook.harness.reporting import results as report
from opsbook.project import Project
from tests.helpers import build
from tests.oracle import assert_agrees

ROOT = Path(__file__).resolve().parents[1]
CORPUS = sorted((ROOT / "tests" / "corpus").glob("*.md"))
# techdocs-core 1.7.1, core.py on_config, use_pymdownx_blocks false: what it appends
TECHDOCS_CORE = (
    "toc", "tables", "fenced_code", "admonition", "pymdownx.details", "pymdownx.tabbed",
    "pymdownx.caret", "pymdownx.critic", "pymdownx.emoji", "pymdownx.inlinehilite",
    "pymdownx.magiclink", "pymdownx.mark", "pymdownx.smartsymbols", "pymdownx.snippets",
    "pymdownx.highlight", "pymdownx.extra", "pymdownx.tasklist", "pymdownx.tilde",
    "markdown_inline_graphviz", "plantuml_markdown", "mdx_truly_sane_lists",
)


@pytest.fixture(scope="module")
def techdocs(tmp_path_factory: pytest.TempPathFactory) -> SiteMarkdown:
    yml = tmp_path_factory.mktemp("techdocs") / "mkdocs.yml"
    yml.write_text("site_name: t\nplugins:\n  - techdocs-core\n  - opsbook\n")
    site = sitefile.load(yml)
    assert site.extensions == TECHDOCS_CORE
    assert site.configs["pymdownx.highlight"] == {"linenums": True, "pygments_lang_class": True}
    md = for_site(site)
    assert md.missing == () and md.list_indent == 2  # every extension loads here
    return md


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_agrees_with_the_techdocs_rendering(path: Path, techdocs: SiteMarkdown) -> None:
    assert_agrees(path.name, path.read_text(), techdocs)


def test_site_pages_agree_with_the_techdocs_rendering(techdocs: SiteMarkdown) -> None:
    plan = plan_pages(Project(ROOT))
    assert plan.pages
    for page in plan.pages:
        assert_agrees(page.page, page.text, techdocs)


def test_sane_lists_change_which_fences_are_code(techdocs: SiteMarkdown) -> None:
    """A fence 6 columns under `- a` is a block on the site, but under TechDocs it is
    inside an indented code block: shown fences and all, never run."""
    text = (ROOT / "tests" / "corpus" / "lists.md").read_text()
    repo = for_site(sitefile.load(ROOT / "mkdocs.yml"))
    assert [b.lang for b in read("l.md", text, repo).blocks][-1] == "bash"
    found = read("l.md", text, techdocs)
    assert found.blocks[-1].lang == "" and found.blocks[-1].body.startswith("```bash")
    assert any("indented code block" in t.why for t in found.as_text)


def test_techdocs_build_shows_the_marks_without_javascript(
    project_copy: Project, tmp_path: Path
) -> None:
    """The techdocs-core extension set and Material (which it forces), strict; the marks
    and the page summary are plain HTML and CSS classes, no script of their own."""
    yml = project_copy.root / "mkdocs.yml"
    text = yml.read_text().split("\nmarkdown_extensions:")[0]
    # TechDocs strips scripts: the marks must not need one of the site's own either
    text = re.sub(r"\nextra_javascript:\n(?:  .*\n)+", "\n", text)
    exts = "".join(f"  - {n}\n" for n in TECHDOCS_CORE[3:] if n not in (
        "pymdownx.tabbed", "pymdownx.highlight", "pymdownx.tasklist"))
    yml.write_text(text + "\nmarkdown_extensions:\n  - toc:\n      permalink: true\n" + exts
                   + "  - pymdownx.tabbed:\n      alternate_style: true\n"
                   + "  - pymdownx.highlight:\n      linenums: true\n"
                   + "      pygments_lang_class: true\n"
                   + "  - pymdownx.tasklist:\n      custom_checkbox: true\n")
    assert "\nextra_javascript:" not in yml.read_text()
    assert set(sitefile.load(yml).extensions) == set(TECHDOCS_CORE)
    page = project_copy.docs_dir / "scaling.md"
    plan = plan_pages(project_copy, pages=["scaling.md"])
    results = RunResults("abc1234", "2026-11-22T10:00:00+00:00", [
        BlockResult("scaling.md", s.block.line, s.block.lang, "passed", digest=s.block.digest)
        for s in plan.pages[0].steps], state="complete", isolation="rootless, as opsbook-runner")
    report.write(results, project_copy.state_dir)
    assert page.is_file()
    built = build(project_copy, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    html = (tmp_path / "site" / "scaling" / "index.html").read_text()
    article = html.split('<article class="md-content__inner md-typeset">')[1].split(
        "</article>")[0]
    assert "✔ verified" in article and 'class="opsbook-summary' in article
    assert "<script" not in article and re.search(r"<[^>]+\son\w+=", article) is None
    assert json.loads((project_copy.state_dir / "results.json").read_text())["commit"]
