"""Typed contracts between the harness stages.

    reading/   extract (Markdown -> Block) -> plan (page -> PagePlan of Steps)
    deciding/  classify (Block -> Classification), expected output
    running/   run (Step -> BlockResult) in an isolated shell session per page
    reporting/ results file, badges on the site, update mode
    verify.py  the one driver: plan pages, run them, write results, report

Each stage is a plain function over these dataclasses, so every stage can be tested on
its own and the pytest plugin, the CLI and the MkDocs plugin share one vocabulary.
Problems found on the way are `Problem`s, not strings: they keep the block they belong to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

SHELL_LANGS = frozenset({"bash", "sh", "shell", "console"})
OUTPUT_LANGS = frozenset({"text", "output"})


@dataclass(frozen=True)
class Problem:
    """Something on a page the harness cannot accept. Shown as `page:line: message`."""

    page: str
    line: int  # 1-based page line the message points at (a directive, a fence, a command)
    message: str
    block_id: str | None = None  # `page:LINE` of the block it belongs to; None: page-level

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.message}"

    @classmethod
    def on(cls, block: Block, message: str, line: int | None = None) -> Problem:
        return cls(block.page, block.line if line is None else line, message, block.id)


@dataclass(frozen=True)
class Directive:
    """One `<!-- opsbook: k=v k2 -->` comment (possibly spanning lines, possibly hiding a fence)."""

    line: int  # 1-based line of `<!--`
    end_line: int  # 1-based line of `-->`
    keys: tuple[tuple[str, str | None], ...]  # in written order; flag keys have value None

    def get(self, key: str) -> str | None:
        return dict(self.keys).get(key)

    def has(self, key: str) -> bool:
        return any(k == key for k, _ in self.keys)


@dataclass(frozen=True)
class Block:
    """A fenced code block exactly as the site's Markdown shows it (or hides it)."""

    page: str  # path relative to docs/, or the path given on the command line
    line: int  # 1-based line of the opening fence
    end_line: int  # 1-based line of the closing fence
    lang: str  # lower-cased first word of the info string ("" when none)
    info: str  # the rest of the info string (attributes, options)
    body: str  # content with the fence's indentation removed, ending without newline
    indent: str  # the fence's own indentation (kept when annotating / updating)
    fence: str  # "```", "~~~~", ...
    tabs: tuple[str, ...] = ()  # titles of enclosing content tabs, outermost first
    directives: tuple[Directive, ...] = ()  # comments directly above, in order
    hidden: bool = False  # inside `<!-- opsbook: setup ... -->`: runs, never shown

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def digest(self) -> str:
        """Identifies the block's content, so a badge never outlives an edit."""
        return hashlib.sha1(f"{self.lang}\n{self.body}".encode()).hexdigest()[:12]

    def directive(self, key: str) -> str | None:
        for d in self.directives:
            if d.has(key):
                return d.get(key)
        return None

    def has_directive(self, key: str) -> bool:
        return any(d.has(key) for d in self.directives)

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class TextFence:
    """A fence the site does not render as a code block (its lines show as plain text): an
    info string its superfences refuses, a fence never closed or abandoned. Listed, never run."""

    page: str
    line: int  # 1-based line of the opening fence
    lang: str  # as written, lower-cased ("" when none)
    info: str  # the rest of the opening line
    why: str  # one line: what the site does with it

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


class SkipReason(StrEnum):
    production_only = "production-only"
    staging_only = "staging-only"
    destructive = "destructive"
    illustrative = "illustrative"
    needs_kubernetes = "needs-kubernetes"
    compose_only = "compose-only"  # the Compose sandbox's: not run on the kind backend
    interactive = "interactive"
    external = "external"


# What readers see on the badge of a block that was not run. Keep these honest: they are
# shown on the published site next to the command.
SKIP_TEXT: dict[SkipReason, str] = {
    SkipReason.production_only: "runs against production only; not run by the test harness",
    SkipReason.staging_only: "runs against staging only; not run by the test harness",
    SkipReason.destructive: "destructive (deletes or overwrites data); not run automatically",
    SkipReason.illustrative: "illustrative: shows the shape of a command, fill in your values",
    SkipReason.needs_kubernetes: "needs a Kubernetes cluster, which the test sandbox does not have",
    SkipReason.interactive: "interactive: waits for a person to type; not run automatically",
    SkipReason.external: "talks to a system outside the sandbox; not run automatically",
    SkipReason.compose_only: "uses the Docker Compose sandbox; not run on Kubernetes",
}

Role = Literal["main", "setup", "teardown"]
Kind = Literal["run", "skip", "refused", "output", "other"]


@dataclass(frozen=True)
class Command:
    """One command of a block, with the output written beneath it (console) or after it."""

    line: int  # page line of the command's first line
    text: str  # shell source, continuation lines joined with newlines
    expected: tuple[str, ...] | None  # None: output is not checked
    expected_line: int = 0  # page line of the first expected-output line


@dataclass(frozen=True)
class Classification:
    kind: Kind
    role: Role = "main"
    reason: SkipReason | None = None  # kind == "skip"
    why: str = ""  # kind == "refused": what it names; otherwise how it was inferred
    expect_exit: int = 0
    timeout: float = 120.0
    retry: float | None = None  # deadline in seconds for re-running until it passes
    regex: bool = False  # expected output lines are regular expressions
    output_block: Block | None = None  # the `text`/`output` block holding expected output
    scenario: str | None = None  # fault id: the block runs while that fault is injected
    phase: Phase | None = None  # its part of the runbook: diagnosis or mitigation


@dataclass(frozen=True)
class Step:
    """A block ready to run: what the runner needs, nothing it must re-derive."""

    block: Block
    classification: Classification
    commands: tuple[Command, ...]

    @property
    def id(self) -> str:
        return self.block.id


Phase = Literal["diagnosis", "mitigation"]


@dataclass(frozen=True)
class ScenarioPlan:
    """A runbook section proven against its fault: the steps run while it is injected."""

    fault: str  # fault id in facts/faults.yml
    page: str
    line: int  # first block of the section
    steps: tuple[str, ...]  # ids of its steps, in run order (diagnosis, then mitigation)
    anchor: str = ""  # the section it proves: its heading's `{ #id }`, or the heading's slug

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}:{self.fault}"

    @property
    def where(self) -> str:
        """page.md#anchor, as faults.yml's `runbook` and the pytest item name it."""
        return f"{self.page}#{self.anchor}"


@dataclass
class PagePlan:
    """One page read and decided: its blocks, their classifications, the steps to run."""

    page: str  # path relative to docs/, or the Markdown file named on the command line
    text: str  # the Markdown the site shows (rendered, includes expanded)
    blocks: list[Block] = field(default_factory=list)
    classified: list[tuple[Block, Classification]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)  # run order: setup, main, teardown
    problems: list[Problem] = field(default_factory=list)
    scenarios: list[ScenarioPlan] = field(default_factory=list)
    as_text: list[TextFence] = field(default_factory=list)  # fences the site shows as text
    adopted: bool = True  # False: listed only; never run, never badged as verified

    @property
    def shell(self) -> list[tuple[Block, Classification]]:
        return [(b, c) for b, c in self.classified if b.lang in SHELL_LANGS]


Status = Literal["passed", "failed", "skipped", "refused", "blocked"]
# A run with any of these fails; a page shows a banner for them.
FAILED_STATUSES: frozenset[Status] = frozenset({"failed", "refused", "blocked"})


@dataclass
class BlockResult:
    page: str
    line: int
    lang: str
    status: Status
    duration: float = 0.0
    digest: str = ""
    role: Role = "main"
    reason: str | None = None  # SkipReason value when skipped
    message: str = ""  # one-line summary for failures / refusals
    command: str = ""  # the failing command
    exit_code: int | None = None
    expected: str | None = None
    actual: str | None = None
    diff: str = ""
    attempts: int = 1
    output: str = ""  # full combined output of the block (for update mode and debugging)
    outputs: list[str] = field(default_factory=list)  # per command, same order as commands

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass
class ScenarioResult:
    """What proving one runbook against its fault showed (results.json `scenarios`)."""

    page: str
    line: int
    fault: str
    status: Literal["passed", "failed"] = "failed"
    alerts: list[str] = field(default_factory=list)  # those the fault must fire
    fired: list[str] = field(default_factory=list)  # those seen firing and delivered
    seconds_to_fire: float | None = None  # injection -> every alert firing and delivered
    diagnosis_showed: bool = False  # the diagnosis output matched the fault's signature
    diagnosis_unchanged: bool = False  # the sandbox's state was the same after diagnosis
    mitigated: bool = False  # the mitigation blocks passed
    recovered: bool = False  # every alert resolved afterwards
    seconds_to_mitigate: float | None = None  # mitigation start -> alerts resolved
    seconds: float | None = None  # the whole scenario: baseline wait to restore done
    message: str = ""  # why it failed

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}:{self.fault}"


@dataclass
class ProcedureResult:
    """A page's procedure run under client traffic (results.json `procedures`)."""

    page: str
    status: Literal["passed", "failed"] = "failed"
    rate: float | None = None  # job submissions per second
    seconds: float | None = None  # how long the traffic ran
    accepted: int = 0  # jobs answered 202
    completed: int = 0
    failed: int = 0  # finished as failed, with an error: not lost
    lost: int = 0  # accepted, never finished
    refused: int = 0  # requests refused or dropped
    errors: int = 0  # requests answered 5xx
    lost_ids: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)  # the first refused or 5xx requests
    message: str = ""
    note: str = ""  # from the facts: why the budget is what it is


@dataclass
class CleanupFailure:
    """A page that left the sandbox unlike its baseline (results.json `cleanup`)."""

    page: str
    message: str  # what differed, as a diff of the baseline probe's output


RunState = Literal["running", "complete", "interrupted"]
# What the pages run against: the Docker Compose sandbox, or the same platform on kind
# (the Kubernetes tabs executed, the Compose ones not).
Backend = Literal["compose", "kind"]
BACKENDS: tuple[Backend, ...] = ("compose", "kind")


@dataclass
class PageRecord:
    """When and under what a page's results were produced (results.json `pages`).

    A run with `--changed` reuses the results of a page whose key has not changed since it
    last passed: the page is listed with `reused` set, and with the time and commit of the
    run that really executed it, which is what its badges show."""

    page: str
    key: str  # sha256 of everything its result depends on (reporting/keys.py)
    time: str  # ISO 8601, UTC: when the run that executed the page started
    commit: str  # the commit that run was made at
    seconds: float = 0.0  # the page's wall time in that run (for --shard balancing)
    state: RunState = "complete"  # "complete": every step of the page was run
    isolation: str = ""
    reused: bool = False  # carried over from an earlier run, not executed in this one


@dataclass
class RunResults:
    """One verification run: written to .opsbook/results.json as each block finishes, read
    by the site build. A run that never reached its end stays `running` or `interrupted`."""

    commit: str
    time: str  # ISO 8601, UTC, when the run started
    blocks: list[BlockResult] = field(default_factory=list)
    state: RunState = "running"
    isolation: str = ""  # how blocks ran: "rootless, as opsbook-runner", "unisolated, as root"
    scenarios: list[ScenarioResult] = field(default_factory=list)
    backend: str = "compose"  # Backend: what the blocks ran against
    cleanup: list[CleanupFailure] = field(default_factory=list)
    procedures: list[ProcedureResult] = field(default_factory=list)
    pages: list[PageRecord] = field(default_factory=list)  # in the order they were run

    def for_page(self, page: str) -> list[BlockResult]:
        return [b for b in self.blocks if b.page == page]

    def record(self, page: str) -> PageRecord | None:
        return next((p for p in reversed(self.pages) if p.page == page), None)

    def only(self, page: str) -> RunResults:
        """The results of one page, dated by the run that executed it (a reused page's
        time and commit are its own, not this run's)."""
        run = self.record(page)
        return RunResults(
            commit=run.commit if run else self.commit,
            time=run.time if run else self.time,
            blocks=self.for_page(page),
            state=run.state if run else self.state,
            isolation=(run.isolation or self.isolation) if run else self.isolation,
            scenarios=[s for s in self.scenarios if s.page == page],
            cleanup=[c for c in self.cleanup if c.page == page],
            procedures=[p for p in self.procedures if p.page == page],
            pages=[run] if run else [],
        )

    def absorb(self, part: RunResults) -> None:
        """Add `part`'s results (another run's pages) to this run's, records included."""
        self.blocks += part.blocks
        self.scenarios += part.scenarios
        self.cleanup += part.cleanup
        self.procedures += part.procedures
        self.pages += part.pages

    def carried(self, page: str) -> RunResults:
        """`only(page)` as a later run carries it over unrun (`--changed`): its records
        marked reused, their time and commit kept."""
        part = self.only(page)
        part.pages = [replace(r, reused=True) for r in part.pages]
        return part

    def page_passed(self, page: str) -> bool:
        """Whether the page ran to its end with nothing failed, unproven or left unclean."""
        run = self.record(page)
        mine = self.only(page)
        return run is not None and run.state == "complete" and not mine.failed

    @property
    def failed(self) -> bool:
        """Any block failed, refused or blocked, any scenario not proven, any page unclean."""
        return (
            any(b.status in FAILED_STATUSES for b in self.blocks)
            or any(s.status != "passed" for s in self.scenarios)
            or any(p.status != "passed" for p in self.procedures)
            or bool(self.cleanup)
        )

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.blocks:
            out[b.status] = out.get(b.status, 0) + 1
        return out
