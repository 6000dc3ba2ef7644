"""From a project (or Markdown files) to planned pages: the input of every run.

    read_page(page, markdown) -> PagePlan    extract, classify, order into steps
    plan_pages(project, ...)  -> Plan        the rendered site (or files), every page read
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opsbook.errors import OpsbookError
from opsbook.facts import Facts, load_facts
from opsbook.harness.deciding.classify import classify_page, console_commands
from opsbook.harness.model import (
    SHELL_LANGS,
    Block,
    Classification,
    Command,
    PagePlan,
    Problem,
    Step,
)
from opsbook.harness.reading.extract import extract
from opsbook.harness.running.isolation import Forbidden
from opsbook.project import Project
from opsbook.render import render_site

RUN_ORDER = {"setup": 0, "main": 1, "teardown": 2}


@dataclass(frozen=True)
class Plan:
    """Every page of one run, with what the run must refuse and the facts it read."""

    pages: list[PagePlan]
    forbidden: Forbidden
    facts: Facts | None  # None: Markdown files outside any project

    @property
    def problems(self) -> list[Problem]:
        return [pr for p in self.pages for pr in p.problems]


def commands_for(block: Block, cls: Classification, problems: list[Problem]) -> tuple[Command, ...]:
    if block.lang == "console":
        return tuple(console_commands(block, problems))
    expected = None
    expected_line = 0
    if cls.output_block is not None:
        out = cls.output_block.body.split("\n")
        while out and not out[-1].strip():
            out.pop()
        expected = tuple(out)
        expected_line = cls.output_block.line + 1
    return (
        Command(
            line=block.line + 1, text=block.body, expected=expected, expected_line=expected_line
        ),
    )


def plan_steps(
    classified: list[tuple[Block, Classification]], problems: list[Problem]
) -> list[Step]:
    """Steps in run order: setup blocks, then the page's blocks, then teardown blocks."""
    steps = [
        Step(b, c, commands_for(b, c, problems) if c.kind == "run" else ())
        for b, c in classified
        if b.lang in SHELL_LANGS
    ]
    # sorted() is stable: page order within a role
    return sorted(steps, key=lambda s: RUN_ORDER[s.classification.role])


def read_page(page: str, text: str, forbidden: Forbidden) -> PagePlan:
    blocks, problems = extract(page, text)
    classified, more = classify_page(blocks, forbidden, text)
    problems += more
    steps = plan_steps(classified, problems)
    return PagePlan(page, text, blocks, classified, steps, problems)


def plan_pages(
    project: Project | None, paths: list[Path] | None = None, pages: list[str] | None = None
) -> Plan:
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
    plans = [read_page(p, t, forbidden) for p, t in sorted(texts.items())]
    return Plan(plans, forbidden, facts)
