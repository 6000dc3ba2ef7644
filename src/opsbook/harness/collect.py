"""From a project (or Markdown files) to classified, planned pages: the input of every run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from opsbook.errors import OpsbookError
from opsbook.facts import Facts, load_facts
from opsbook.harness.classify import Forbidden, classify_page, plan_page
from opsbook.harness.extract import extract_lenient
from opsbook.harness.model import SHELL_LANGS, Block, Classification, Step
from opsbook.project import Project
from opsbook.render import render_site


@dataclass
class Page:
    page: str
    text: str
    blocks: list[Block] = field(default_factory=list)
    classified: list[tuple[Block, Classification]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def shell(self) -> list[tuple[Block, Classification]]:
        return [(b, c) for b, c in self.classified if b.lang in SHELL_LANGS]


def analyse(page: str, text: str, forbidden: Forbidden) -> Page:
    blocks, problems = extract_lenient(page, text)
    classified, more = classify_page(blocks, forbidden, text)
    problems += more
    steps = plan_page(classified, problems)
    return Page(page, text, blocks, classified, steps, problems)


def load(
    project: Project | None, paths: list[Path] | None = None, pages: list[str] | None = None
) -> tuple[list[Page], Forbidden, Facts | None]:
    """PATHs: those Markdown files as they are. Otherwise the rendered site (optionally only
    `pages`). Facts are used for refusals whenever a project is found."""
    facts = load_facts(project.facts_dir) if project is not None else None
    forbidden = Forbidden.from_facts(facts)
    if paths:
        texts = {str(p): p.read_text(encoding="utf-8") for p in paths}
    else:
        if project is None:
            raise OpsbookError("no project found and no Markdown files given")
        texts = render_site(project, facts)
        if pages:
            missing = [p for p in pages if p not in texts]
            if missing:
                raise OpsbookError(
                    [f"{p}: no such page (pages: {', '.join(sorted(texts))})" for p in missing]
                )
            texts = {p: texts[p] for p in pages}
    return [analyse(p, t, forbidden) for p, t in sorted(texts.items())], forbidden, facts
