"""From a project (or Markdown files) to planned pages: the input of every run.

    read_page(page, markdown) -> PagePlan    extract, classify, order into steps
    plan_pages(project, ...)  -> Plan        the rendered site (or files), every page read
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from opsbook import cache as disk
from opsbook import sitefile
from opsbook.errors import OpsbookError
from opsbook.facts import Facts, load_facts
from opsbook.harness.deciding.classify import classify_page, console_commands
from opsbook.harness.model import (
    SHELL_LANGS,
    Backend,
    Block,
    Classification,
    Command,
    PagePlan,
    Problem,
    ScenarioPlan,
    Step,
)
from opsbook.harness.reading.adopt import Adoption
from opsbook.harness.reading.extract import read
from opsbook.harness.reading.plan_cache import PlanCache
from opsbook.harness.reading.site_markdown import SiteMarkdown, for_site
from opsbook.harness.running.isolation import Forbidden
from opsbook.project import Project, display_path
from opsbook.render import render_site

RUN_ORDER = {"setup": 0, "main": 1, "teardown": 2}


@dataclass(frozen=True)
class Plan:
    """Every page of one run, with what the run must refuse and the facts it read."""

    pages: list[PagePlan]
    forbidden: Forbidden
    facts: Facts | None  # None: Markdown files outside any project
    site_problems: tuple[Problem, ...] = ()  # of the site's configuration (mkdocs.yml)
    notes: tuple[str, ...] = ()  # worth saying, not wrong: extensions not installed here

    @property
    def problems(self) -> list[Problem]:
        """What fails a run: the configuration's problems and those of adopted pages."""
        return [*self.site_problems, *(pr for p in self.pages if p.adopted for pr in p.problems)]

    @property
    def not_adopted_problems(self) -> list[Problem]:
        """Problems on pages not adopted yet: listed, not failing anything."""
        return [pr for p in self.pages if not p.adopted for pr in p.problems]


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
    page: str,
    text: str,
    forbidden: Forbidden,
    faults: Collection[str] | None = None,
    site: SiteMarkdown | None = None,
    adopted: bool = True,
    backend: Backend = "compose",
) -> PagePlan:
    """One page read as the site renders it (`site`: its Markdown). A page not adopted is
    read and classified but gets no steps: nothing on it runs."""
    found = read(page, text, site)
    problems = list(found.problems)
    classified, more = classify_page(found.blocks, forbidden, text, backend)
    problems += more
    steps = plan_steps(classified, problems)
    scenarios = plan_scenarios(page, text, steps, faults, problems)
    if not adopted:
        steps, scenarios = [], []
    return PagePlan(page, text, found.blocks, classified, steps, problems, scenarios,
                    found.as_text, adopted)


def markdown_files(paths: list[Path]) -> list[Path]:
    """Files as given; folders as every Markdown file under them, in path order."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(q for q in p.rglob("*.md") if q.is_file())
            if not found:
                raise OpsbookError(f"{display_path(p)}: no Markdown (*.md) files in this folder")
            out += found
        else:
            out.append(p)
    return list(dict.fromkeys(out))


def _site_of(path: Path | None, cache: dict[Path | None, sitefile.SiteFile]) -> sitefile.SiteFile:
    """The site a Markdown file belongs to: the nearest mkdocs.yml at or above it, else
    opsbook's defaults (`path` None: the defaults)."""
    found = sitefile.find(path) if path is not None else None
    if found not in cache:
        cache[found] = sitefile.load(found) if found is not None else sitefile.default()
    return cache[found]


def _where(site: sitefile.SiteFile) -> str:
    return display_path(site.path) if site.path else "the default configuration"


def _adoption(site: sitefile.SiteFile) -> Adoption:
    return Adoption.from_option(site.plugin.get("adopt"), _where(site))


def _site_checks(site: sitefile.SiteFile, md: SiteMarkdown) -> tuple[list[Problem], list[str]]:
    where = _where(site)
    problems = []
    if not md.superfences:
        problems.append(Problem(where, 1, "markdown_extensions does not load "
            "pymdownx.superfences; opsbook reads fences as superfences does, so add it "
            "(`opsbook init` does)"))
    notes = [f"{where}: extension not installed here, pages are read without it: {m}"
             for m in md.missing]
    return problems, notes


def _docs_relative(path: Path, site: sitefile.SiteFile) -> str | None:
    docs = site.docs_dir
    if docs is None:
        return None
    try:
        return path.resolve().relative_to(docs.resolve()).as_posix()
    except ValueError:
        return None


def plan_pages(
    project: Project | None,
    paths: list[Path] | None = None,
    pages: list[str] | None = None,
    backend: Backend = "compose",
) -> Plan:
    """PATHs: those Markdown files (or every one under those folders) as they are.
    Otherwise the rendered site (optionally only `pages`). Pages are read with the site's
    own Markdown configuration; facts are used for refusals whenever a project is found."""
    facts = load_facts(project.facts_dir) if project is not None else None
    forbidden = Forbidden.from_facts(facts)
    sites: dict[Path | None, sitefile.SiteFile] = {}
    site_of: dict[str, sitefile.SiteFile] = {}  # page -> the site it is read as
    adopted: dict[str, bool] = {}
    if paths:
        files = markdown_files(paths)
        texts = {str(p): p.read_text(encoding="utf-8") for p in files}
        for p in files:
            site = site_of[str(p)] = _site_of(p, sites)
            rel = _docs_relative(p, site)
            adopted[str(p)] = rel is None or _adoption(site).adopts(rel)
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
        site = _site_of(project.root, sites)
        site_of = dict.fromkeys(texts, site)
        adoption = _adoption(site)
        adopted = {p: adoption.adopts(p) for p in texts}
        sites_problems = [Problem(_where(site), 1, f"plugins: opsbook: adopt: {e!r} names no "
                                  f"page under {site.docs_dir_name}/")
                          for e in adoption.unmatched(texts)]
        if pages:
            texts = {p: texts[p] for p in pages}
    site_problems: list[Problem] = [] if paths else sites_problems
    notes: list[str] = []
    for site in sites.values():
        more, said = _site_checks(site, for_site(site))
        site_problems += more
        notes += said
    faults = {f.id for f in facts.faults} if facts is not None else None
    # the rendered site's pages are read once per text and context (files given as PATHs
    # are read afresh: they are usually few, and outside any project)
    cache = PlanCache(project, forbidden, faults, backend) if project and not paths else None
    plans = []
    markdowns: dict[int, SiteMarkdown] = {}
    with disk.gc_paused():
        for p, t in sorted(texts.items()):
            site = site_of[p]
            site_md = markdowns.get(id(site)) or markdowns.setdefault(id(site), for_site(site))
            page_adopted = adopted.get(p, True)
            plan = cache.get(p, t, site_md, page_adopted) if cache is not None else None
            if plan is None:
                plan = read_page(p, t, forbidden, faults, site_md, page_adopted, backend)
                if cache is not None:
                    cache.put(plan, site_md)
            plans.append(plan)
    if cache is not None:
        cache.flush()
    if facts is not None and not paths:
        _check_runbook_links([p for p in plans if p.adopted], facts)
    return Plan(plans, forbidden, facts, tuple(site_problems), tuple(notes))


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
