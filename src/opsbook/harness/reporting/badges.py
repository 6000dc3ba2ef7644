"""Verification marks on the rendered page, and directives removed from it.

Contract with the MkDocs plugin: `load_results(project)` returns the last run's results
(or None when there was no run); `annotate_page(page, markdown, results)` returns the
Markdown the site shows, with each shell block's status and the page's summary added.

What a page shows:
- under its title, once: the procedure's line (`under_traffic`), the page's summary (when
  it has shell blocks: the run's time and age, commit, isolation, and this page's counts),
  and a `!!! failure` admonition linking the section of each failing block;
- under each shell block: a small mark (`mark`): ✔ verified, ✘ failed with its reason
  inline, not run (harmless), ⚠ not run (destructive), or not verified (changed since);
- under a scenario's last block: the proof line (`proof`).

Markdown validity rules:
- Marks and proof lines are one inline `<span>` (inline elements only inside) on its own
  line under the block's closing fence, at the fence's indentation, with a blank line
  before and after: inline HTML is valid at any depth (tabs, admonitions, lists), where a
  block-level HTML element would not be.
- The summary is a block-level `<div>` on one line, with blank lines around it: it only
  ever sits at top level, right after the page's title. Python-Markdown leaves a raw HTML
  block alone, so everything inside it is HTML, escaped here.
- Text inside an inline `<span>`, and even its attribute values (a `title`), is still
  Markdown: `_text` escapes HTML *and* the characters Markdown would act on (`*`, `_`,
  backticks, brackets, braces) as character references, so a message shows as written.
- A result belongs to a block only if the block's content is unchanged (its digest), so a
  mark never vouches for a command edited after the run.
- `<!-- opsbook: ... -->` directives and hidden setup/teardown blocks are removed: left in,
  Python-Markdown wraps an indented comment and the following code in a `<p>`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape, unescape
from typing import Literal

import markdown as mdlib
from markdown.extensions.toc import slugify

from opsbook.harness.model import (
    SHELL_LANGS,
    SKIP_TEXT,
    Block,
    BlockResult,
    ProcedureResult,
    RunResults,
    ScenarioResult,
    SkipReason,
)
from opsbook.harness.reading.extract import extract
from opsbook.harness.reading.site_markdown import SiteMarkdown
from opsbook.harness.reporting import results as report
from opsbook.project import Project

# Skips that are not harmless: the block was not run because running it outside the
# sandbox changes something that matters (data, production). Their mark looks different
# (⚠, a filled colour), so nobody mistakes "not run" for "safe to paste".
DESTRUCTIVE_SKIPS = frozenset({SkipReason.destructive, SkipReason.production_only})
REASON_MAX = 160  # characters of a failure's first line shown inline under the block

MarkKind = Literal["passed", "failed", "skipped", "skipped-destructive", "unverified"]


def load_results(project: Project) -> RunResults | None:
    return report.read(project.state_dir)


def load_kubernetes_results(project: Project) -> RunResults | None:
    """The kind backend's results (`opsbook test --backend kind`), if a run left them."""
    return report.read(project.state_dir, KUBERNETES_FILE)


KUBERNETES_FILE = "results-kind.json"


# -- text helpers ---------------------------------------------------------------------------

# One pass: HTML's specials, and those Python-Markdown (with attr_list, inlinehilite,
# tables) acts on inside a paragraph, as numeric character references.
_LITERAL = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
    | {c: f"&#{ord(c)};" for c in "'\\`*_[]{}~^=!#|"}
)


def _text(s: str) -> str:
    """`s` as literal text inside inline HTML in Markdown: HTML-escaped, Markdown-inert."""
    return s.translate(_LITERAL)


def _parse_time(iso: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _date(iso: str) -> str:
    t = _parse_time(iso)
    return t.date().isoformat() if t else iso


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _age(then: datetime, now: datetime) -> str:
    """'3 days ago'; '' when `then` is in the future (a skewed clock: no claim)."""
    seconds = (now - then).total_seconds()
    if seconds < 0:
        return ""
    if seconds < 60:
        return "less than a minute ago"
    if seconds < 3600:
        return _plural(int(seconds // 60), "minute") + " ago"
    if seconds < 86400:
        return _plural(int(seconds // 3600), "hour") + " ago"
    return _plural(int(seconds // 86400), "day") + " ago"


def _reason(res: BlockResult) -> tuple[str, str]:
    """(short reason shown inline, first line in full) of a failed/refused/blocked block."""
    first = res.message.strip().split("\n", 1)[0].strip()
    if not first:
        first = f"exited {res.exit_code}" if res.exit_code is not None else res.status
    # `page.md:LINE: ` locates the command for the harness's output; the reader is there
    short = re.sub(r"^\S+?:\d+:\s+", "", first)
    if len(short) > REASON_MAX:
        cut = short[:REASON_MAX].rsplit(" ", 1)[0]
        short = (cut if len(cut) > REASON_MAX // 2 else short[:REASON_MAX]).rstrip(",;: ") + "…"
    return short, first


# -- per block ------------------------------------------------------------------------------


def kind_of(res: BlockResult | None) -> MarkKind:
    if res is None:
        return "unverified"
    if res.status == "passed":
        return "passed"
    if res.status == "skipped":
        try:
            destructive = SkipReason(res.reason) in DESTRUCTIVE_SKIPS
        except ValueError:
            destructive = False
        return "skipped-destructive" if destructive else "skipped"
    return "failed"  # failed, refused (names something outside the sandbox), blocked


def _skip_text(res: BlockResult) -> str:
    try:
        return SKIP_TEXT[SkipReason(res.reason)]
    except ValueError:
        return str(res.reason)


def mark(res: BlockResult | None, results: RunResults, reached: bool = True) -> str:
    """The small mark under a shell block. `reached`: with no result for the block, whether
    the run got that far (so the block changed since) or stopped before it."""
    kind = kind_of(res)
    cls = f"opsbook-mark opsbook-{kind}"
    if res is None:
        why = "changed since the run" if reached else "the run stopped before it"
        if not reached and results.state == "running":
            why = "the run has not reached it yet"
        return f'<span class="{cls}">not verified: {why}</span>'
    if kind == "passed":
        title = f"passed in the sandbox run at {results.commit} on {_date(results.time)}"
        return f'<span class="{cls}" title="{_text(title)}">✔ verified</span>'
    if kind == "skipped":
        return f'<span class="{cls}">not run: {_text(_skip_text(res))}</span>'
    if kind == "skipped-destructive":
        return (
            f'<span class="{cls}"><span aria-hidden="true">⚠</span> not run: '
            f"{_text(_skip_text(res))}</span>"
        )
    short, first = _reason(res)
    label = "✘ failed:" if res.status == "failed" else "✘"  # refused:/not run: say it
    return (
        f'<span class="{cls}" title="{_text(first[:500])}">{label} '
        f'<span class="opsbook-reason">{_text(short)}</span></span>'
    )


def proof(res: ScenarioResult | None, fault: str, results: RunResults) -> str:
    """The line under a runbook section: proven against its fault, with the figures."""
    when = f"{_date(results.time)} at {results.commit}"
    if res is None:
        return (
            '<span class="opsbook-badge opsbook-unverified">not proven: no run against '
            f"fault {_text(fault)} yet</span>"
        )
    if res.status != "passed":
        first = (res.message.splitlines() or [""])[0][:300]
        return (
            f'<span class="opsbook-badge opsbook-failed">✘ not proven against fault '
            f"{_text(fault)} ({when}): {_text(first)}</span>"
        )
    fired = (
        f"{_text(', '.join(res.fired))} fired after {res.seconds_to_fire:g} s, "
        if res.fired else ""
    )
    return (
        f'<span class="opsbook-badge opsbook-passed">✔ proven {when}: fault '
        f"{_text(fault)} injected, {fired}the diagnosis showed it, {_cleared(res)}</span>"
    )


def _cleared(res: ScenarioResult) -> str:
    if not res.mitigated:  # a section that only diagnoses (the incident's first minutes)
        return "changing nothing"
    took = f" in {res.seconds_to_mitigate:g} s" if res.seconds_to_mitigate else ""
    return f"the mitigation cleared it{took}"


def under_traffic(res: ProcedureResult, results: RunResults) -> str:
    """The line under a procedure's title: what live traffic saw while it ran."""
    when = f"{_date(results.time)} at {results.commit}"
    rate = f"{res.rate:g} jobs/s" if res.rate else "live traffic"
    figures = (
        f"{res.accepted} jobs accepted, {res.completed} completed, {res.failed} failed with "
        f"an error, **{res.lost} lost**; {res.refused} requests refused, {res.errors} answered "
        f"5xx, over {res.seconds or 0:g} s"
    )
    if res.note:
        figures += f". {escape(res.note)}"
    if res.status == "passed":
        return (
            f'<span class="opsbook-badge opsbook-passed">✔ proven under {rate} ({when})'
            f"</span> {figures}"
        )
    return (
        f'<span class="opsbook-badge opsbook-failed">✘ not proven under {rate} ({when}): '
        f"{_text(res.message[:300])}</span> {figures}"
    )


# -- per page -------------------------------------------------------------------------------


@dataclass
class _Shown:
    """A shell block the page shows, and what the last run said of it."""

    block: Block
    res: BlockResult | None
    kind: MarkKind
    reached: bool


def summary(shown: list[_Shown], results: RunResults, now: datetime | None = None) -> str:
    """The page's verification, once, under its title (one line of block-level HTML)."""
    n = {k: sum(s.kind == k for s in shown) for k in
         ("passed", "failed", "skipped", "skipped-destructive", "unverified")}
    changed = sum(s.kind == "unverified" and s.reached for s in shown)
    unreached = n["unverified"] - changed
    t = _parse_time(results.time)
    if t is None:
        when = escape(results.time)
    else:
        # The age is computed when the site is built, not when it is read: a page built
        # long after the run still says how old the run was at build time.
        age = _age(t, now or datetime.now(UTC))
        when = (
            f'<time datetime="{escape(t.isoformat())}">{t:%Y-%m-%d %H:%M} UTC</time>'
            + (f', <span class="opsbook-age" title="at build time">{age}</span>' if age else "")
        )
    run = [
        f"last run {when}",
        f"commit <code>{escape(results.commit)}</code>",
        f"blocks ran {escape(results.isolation)}" if results.isolation
        else "isolation not recorded",
    ]
    if results.state != "complete":  # the harness was stopped or killed mid-run
        how = ("still running, or killed" if results.state == "running"
               else escape(results.state))
        run.append(f'<span class="opsbook-count-unverified">that run did not finish '
                   f"({how})</span>")

    def count(k: str, text: str, value: int) -> str:
        cls = f"opsbook-count opsbook-count-{k}" if value else "opsbook-count"
        return f'<span class="{cls}">{text}</span>'

    skipped = n["skipped"] + n["skipped-destructive"]
    not_run = f"{skipped} not run"
    if n["skipped-destructive"]:
        not_run += f" (⚠ {n['skipped-destructive']} destructive)"
    counts = [
        count("passed", f"{n['passed']} passed", n["passed"]),
        count("failed", f"{n['failed']} failed", n["failed"]),
        count("skipped", not_run, skipped),
        count("unverified", f"{changed} changed since the run", changed),
    ]
    if unreached:
        counts.append(count("unverified", f"{unreached} not reached by the run", unreached))
    state = ("failed" if n["failed"] else "unverified" if n["unverified"] else "passed")
    return (
        f'<div class="opsbook-summary opsbook-summary-{state}">'
        f'<p><strong>Sandbox verification</strong>: {" · ".join(run)}</p>'
        f'<p><strong>This page</strong>: {" · ".join(counts)}</p></div>'
    )


NOT_ADOPTED_NOTE = (
    '<div class="opsbook-summary opsbook-summary-unverified"><p><strong>Sandbox '
    "verification</strong>: this page is not adopted yet; its commands are not run by the "
    "harness and none is verified.</p></div>"
)


def annotate_page(
    page: str,
    markdown: str,
    results: RunResults | None,
    now: datetime | None = None,
    site: SiteMarkdown | None = None,
    adopted: bool = True,
    kubernetes: RunResults | None = None,
    blocks: list[Block] | None = None,
) -> str:
    """`now`: the build's time, for the run's age (tests pass a fixed one). `site`: the
    site's Markdown, to find blocks as it renders them. A page not `adopted` gets no marks,
    only a line saying so: nothing on it ran. `kubernetes`: the kind backend's results,
    when there are any: each block then shows both ("Compose: ... Kubernetes: ...").
    `blocks`: the page's blocks if the caller has extracted them (with the same `site`)."""
    if results is not None:
        results = results.only(page)  # dated by the run that executed it (reused pages)
    if kubernetes is not None:
        kubernetes = kubernetes.only(page)
    kube_by_digest: dict[str, list[BlockResult]] = {}
    for r in kubernetes.blocks if kubernetes is not None else []:
        kube_by_digest.setdefault(r.digest, []).append(r)
    lines = markdown.split("\n")
    if blocks is None:
        blocks, _problems = extract(page, markdown, site)  # lenient: the build must not crash
    if not adopted:
        results = None
    by_digest: dict[str, list[BlockResult]] = {}
    page_results = results.for_page(page) if results else []
    for r in page_results:
        by_digest.setdefault(r.digest, []).append(r)
    result_lines = {r.line for r in page_results}

    scenarios = [s for s in results.scenarios if s.page == page] if results else []
    last_of = {f: b.line for b in blocks if (f := b.directive("scenario"))}  # last block wins
    inserts: dict[int, list[str]] = {}  # 0-based index -> lines inserted before it
    drop: set[int] = set()
    shown: list[_Shown] = []
    for b in blocks:
        for d in b.directives:
            drop.update(range(d.line - 1, d.end_line))
        if b.hidden:
            k = b.end_line
            while k < len(lines) and not lines[k].strip().startswith("-->"):
                k += 1
            drop.update(range(b.line - 1, min(k + 1, len(lines))))
            continue
        if b.lang not in SHELL_LANGS or results is None:
            continue
        candidates = by_digest.get(b.digest, [])
        res = next(
            (r for r in candidates if r.line == b.line), candidates[0] if candidates else None
        )
        # no result: the block changed since a run that got this far, or the run stopped
        reached = res is not None or results.state == "complete" or b.line in result_lines
        shown.append(_Shown(b, res, kind_of(res), reached))
        shown_mark = mark(res, results, reached)
        if kubernetes is not None:
            kc = kube_by_digest.get(b.digest, [])
            kres = next((r for r in kc if r.line == b.line), kc[0] if kc else None)
            shown_mark = (
                f'<span class="opsbook-backend">Compose</span> {shown_mark} '
                f'<span class="opsbook-backend">Kubernetes</span> '
                f"{mark(kres, kubernetes, kres is not None or kubernetes.state == 'complete')}"
            )
        mark_lines = ["", b.indent + shown_mark]
        if (fault := b.directive("scenario")) and b.line == last_of.get(fault):
            found = next((s for s in scenarios if s.fault == fault), None)
            mark_lines += ["", b.indent + proof(found, fault, results)]
        if b.end_line < len(lines) and lines[b.end_line].strip():
            mark_lines.append("")
        inserts.setdefault(b.end_line, []).extend(mark_lines)

    head: list[str] = []  # under the title: procedure line, summary, failure banner
    if not adopted and any(b.lang in SHELL_LANGS and not b.hidden for b in blocks):
        head += ["", NOT_ADOPTED_NOTE, ""]
    proc = next((p for p in results.procedures if p.page == page), None) if results else None
    if proc is not None and results is not None:
        head += ["", under_traffic(proc, results), ""]
    if shown and results is not None:
        head += ["", summary(shown, results, now), ""]
        failed = [s.block for s in shown if s.kind == "failed"]
        if failed:
            head += _banner(lines, blocks, drop, failed, results)

    out: list[str] = []
    for i, line in enumerate(lines):
        out.extend(inserts.get(i, []))
        if i not in drop:
            out.append(line)
    out.extend(inserts.get(len(lines), []))
    if head:
        i = _after_title(out)
        out = out[:i] + head + out[i:]
    return "\n".join(out)


def _after_title(lines: list[str]) -> int:
    """Index just after the front matter and the page's first heading."""
    i = 0
    if lines and lines[0].strip() == "---":
        end = next((k for k in range(1, len(lines)) if lines[k].strip() in ("---", "...")), None)
        i = end + 1 if end is not None else 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines) and lines[i].startswith("# "):
        i += 1
    return i


# -- sections and the failure banner --------------------------------------------------------

# Python-Markdown's ATX heading: at the start of a line, no space needed after the #s.
_ATX = re.compile(r"^#{1,6}(?!#)")


@dataclass(frozen=True)
class Section:
    line: int  # 1-based page line of the heading
    title: str  # plain text, as the table of contents shows it
    anchor: str  # the heading's id on the built page


def sections(
    lines: list[str], blocks: list[Block], drop: Collection[int] = ()
) -> list[Section]:
    """The page's top-level headings with the ids the site gives them: an explicit
    `{ #id }` (attr_list), else the toc extension's slug (`slugify`, separator `-`, made
    unique with `_1`, `_2`, ... in page order). Lines inside fences and HTML comments are
    not headings; headings nested in admonitions or tabs are not looked for."""
    skip = set(drop)
    for b in blocks:
        skip.update(range(b.line - 1, b.end_line))
    found: list[int] = []
    in_comment = False
    for i, line in enumerate(lines):
        if i in skip:
            continue
        if in_comment:
            in_comment = "-->" not in line
            continue
        if "<!--" in line and "-->" not in line.split("<!--", 1)[1]:
            in_comment = True
            continue
        if _ATX.match(line):
            found.append(i)
    if not found:
        return []
    # Let the toc extension itself name them: a document of just the headings gets the ids
    # the page gets (an explicit id wins; repeated titles get the same suffixes).
    md = mdlib.Markdown(
        extensions=["attr_list", "toc"],
        extension_configs={"toc": {"slugify": slugify, "separator": "-"}},
    )
    md.convert("\n\n".join(lines[i] for i in found))

    def flat(tokens: list[dict]) -> list[dict]:
        return [x for t in tokens for x in (t, *flat(t["children"]))]

    tokens = flat(md.toc_tokens)  # type: ignore[attr-defined]
    if len(tokens) != len(found):  # not one heading per line after all: claim nothing
        return []
    return [
        Section(i + 1, unescape(t["name"]), t["id"])
        for i, t in zip(found, tokens, strict=True)
    ]


def _section_of(block: Block, secs: list[Section]) -> Section | None:
    return next((s for s in reversed(secs) if s.line < block.line), None)


def _banner(
    lines: list[str], blocks: list[Block], drop: set[int], failed: list[Block],
    results: RunResults,
) -> list[str]:
    """A failure admonition linking the section of each failing block, once per section."""
    secs = sections(lines, blocks, drop)
    where: list[str] = []
    for b in failed:
        s = _section_of(b, secs)
        link = f"[{_text(s.title)}](#{s.anchor})" if s else "near the top of the page"
        if link not in where:
            where.append(link)
    listed = where[0] if len(where) == 1 else ", ".join(where[:-1]) + " and " + where[-1]
    n = len(failed)
    blocks_did = "1 command block on this page did" if n == 1 else (
        f"{n} command blocks on this page did")
    return [
        '!!! failure "Some commands on this page failed verification"',
        f"    In the run at {results.commit} on {_date(results.time)}, {blocks_did} not pass: "
        f"in {listed}. Each shows why under it; check them before relying on them.",
        "",
    ]
