"""From a project (or Markdown files) to planned pages: the input of every run.

    read_page(page, markdown) -> PagePlan    extract, classify, order into steps
    plan_pages(project, ...)  -> Plan        the rendered site (or files), every page read
"""

from __future__ import annotations

import re
from collections.abc import Collection
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
    ScenarioPlan,
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


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*(?:\{\s*#([\w-]+)[^}]*\})?\s*$")


def section_anchor(text: str, line: int) -> str:
    """The anchor of the heading a page line sits under (its `{ #id }`, or the slug)."""
    for raw in reversed(text.split("\n")[: line - 1]):
        if m := _HEADING.match(raw):
            return m.group(3) or re.sub(r"[^\w]+", "-", m.group(2).lower()).strip("-")
    return ""


def plan_scenarios(
    page: str,
    text: str,
    steps: list[Step],
    faults: Collection[str] | None,
    problems: list[Problem],
) -> list[ScenarioPlan]:
    """Runbook sections proven against a fault: consecutive steps marked with the same
    `scenario=`, diagnosis first. `faults`: the fault ids of the facts (None: not checked).

    Steps that do not run here (a Kubernetes variant in the tab beside a Compose block)
    do not separate a scenario's steps: what counts is the order in which they run."""
    groups: list[list[Step]] = []
    previous: str | None = None  # the fault of the step run just before, if any
    for step in steps:
        if step.classification.kind != "run":
            continue
        fault = step.classification.scenario
        if fault is not None:
            if fault == previous:
                groups[-1].append(step)
            else:
                groups.append([step])
        previous = fault
    plans: list[ScenarioPlan] = []
    seen: set[str] = set()
    for group in groups:
        first = group[0]
        fault = first.classification.scenario
        assert fault is not None
        if faults is not None and fault not in faults:
            known = ", ".join(sorted(faults)) or "none"
            problems.append(Problem.on(
                first.block, f"scenario={fault}: no such fault in facts/faults.yml ({known})"
            ))
        if fault in seen:
            problems.append(Problem.on(
                first.block, f"scenario={fault}: its blocks must follow one another"
            ))
        seen.add(fault)
        phases = [s.classification.phase for s in group]
        if phases[0] != "diagnosis" or phases != sorted(phases):  # "diagnosis" < "mitigation"
            problems.append(Problem.on(
                first.block, f"scenario={fault}: diagnosis blocks first, then mitigation"
            ))
        line = first.block.line
        anchor = section_anchor(text, line)
        plans.append(ScenarioPlan(fault, page, line, tuple(s.id for s in group), anchor))
    return plans


def read_page(
    page: str, text: str, forbidden: Forbidden, faults: Collection[str] | None = None
) -> PagePlan:
    blocks, problems = extract(page, text)
    classified, more = classify_page(blocks, forbidden, text)
    problems += more
    steps = plan_steps(classified, problems)
    scenarios = plan_scenarios(page, text, steps, faults, problems)
    return PagePlan(page, text, blocks, classified, steps, problems, scenarios)


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
    faults = {f.id for f in facts.faults} if facts is not None else None
    plans = [read_page(p, t, forbidden, faults) for p, t in sorted(texts.items())]
    if facts is not None and not paths:
        _check_runbook_links(plans, facts)
    return Plan(plans, forbidden, facts)


def _check_runbook_links(plans: list[PagePlan], facts: Facts) -> None:
    """A fault's `runbook` names the section its scenario is in (pages cut by `pages`
    are not checked)."""
    for page in plans:
        for scenario in page.scenarios:
            fault = facts.fault(scenario.fault)
            if fault is None:
                continue
            where = scenario.where
            if where != fault.runbook and where not in fault.drills:
                page.problems.append(Problem(
                    page.page, scenario.line,
                    f"scenario={fault.id} is in {where}, but facts/faults.yml says its "
                    f"runbook is {fault.runbook}; make them agree (or list it in its drills)",
                    f"{page.page}:{scenario.line}",
                ))
