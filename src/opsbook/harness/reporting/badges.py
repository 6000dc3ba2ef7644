"""Verification badges on the rendered page, and directives removed from it.

Contract with the MkDocs plugin: `load_results(project)` returns the last run's results
(or None when there was no run); `annotate_page(page, markdown, results)` returns the
Markdown the site shows, with each shell block's status and the page's summary added.

- Badges are one inline `<span>` on its own line under the block's closing fence, at the
  fence's indentation: inline HTML is valid at any depth (tabs, admonitions, lists), where
  a block-level HTML element would not be.
- A result belongs to a block only if the block's content is unchanged (its digest), so a
  badge never vouches for a command edited after the run.
- `<!-- opsbook: ... -->` directives and hidden setup/teardown blocks are removed: left in,
  Python-Markdown wraps an indented comment and the following code in a `<p>`.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from opsbook.harness.model import (
    FAILED_STATUSES,
    SHELL_LANGS,
    SKIP_TEXT,
    BlockResult,
    ProcedureResult,
    RunResults,
    ScenarioResult,
    SkipReason,
)
from opsbook.harness.reading.extract import extract
from opsbook.harness.reporting import results as report
from opsbook.project import Project


def load_results(project: Project) -> RunResults | None:
    return report.read(project.state_dir)


def _date(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).date().isoformat()
    except ValueError:
        return iso


def badge(res: BlockResult | None, results: RunResults) -> str:
    when = f"at {results.commit} on {_date(results.time)}"
    if results.state != "complete":  # the harness was stopped or killed mid-run
        when += f" (that run did not finish: {results.state})"
    if res is None:
        return (
            '<span class="opsbook-badge opsbook-unverified">not verified: changed since '
            f"the last run ({escape(when)})</span>"
        )
    if res.status == "passed":
        how = f" ({escape(results.isolation)})" if results.isolation else ""
        return (
            f'<span class="opsbook-badge opsbook-passed">✔ verified in the sandbox{how} '
            f"{when}</span>"
        )
    if res.status == "skipped":
        try:
            text = SKIP_TEXT[SkipReason(res.reason)]
        except ValueError:
            text = str(res.reason)
        return f'<span class="opsbook-badge opsbook-skipped">not run: {escape(text)}</span>'
    return (
        f'<span class="opsbook-badge opsbook-failed" title="{escape(res.message)}">'
        f"✘ failed verification {when}</span>"
    )


def proof(res: ScenarioResult | None, fault: str, results: RunResults) -> str:
    """The line under a runbook section: proven against its fault, with the figures."""
    when = f"{_date(results.time)} at {results.commit}"
    if res is None:
        return (
            '<span class="opsbook-badge opsbook-unverified">not proven: no run against '
            f"fault {escape(fault)} yet</span>"
        )
    if res.status != "passed":
        return (
            f'<span class="opsbook-badge opsbook-failed">✘ not proven against fault '
            f"{escape(fault)} ({when}): {escape(res.message.splitlines()[0][:300])}</span>"
        )
    fired = (
        f"{escape(', '.join(res.fired))} fired after {res.seconds_to_fire:g} s, "
        if res.fired else ""
    )
    return (
        f'<span class="opsbook-badge opsbook-passed">✔ proven {when}: fault '
        f"{escape(fault)} injected, {fired}the diagnosis showed it, {_cleared(res)}</span>"
    )


def _cleared(res: ScenarioResult) -> str:
    if not res.mitigated:  # a section that only diagnoses (the incident's first minutes)
        return "changing nothing"
    took = f" in {res.seconds_to_mitigate:g} s" if res.seconds_to_mitigate else ""
    return f"the mitigation cleared it{took}"


def annotate_page(page: str, markdown: str, results: RunResults | None) -> str:
    lines = markdown.split("\n")
    blocks, _problems = extract(page, markdown)  # lenient: the build must not crash
    by_digest: dict[str, list[BlockResult]] = {}
    page_results = results.for_page(page) if results else []
    for r in page_results:
        by_digest.setdefault(r.digest, []).append(r)

    scenarios = [s for s in results.scenarios if s.page == page] if results else []
    last_of = {f: b.line for b in blocks if (f := b.directive("scenario"))}  # last block wins
    inserts: dict[int, list[str]] = {}  # 0-based index -> lines inserted before it
    drop: set[int] = set()
    failed: list[BlockResult] = []
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
        if res is not None and res.status in FAILED_STATUSES:
            failed.append(res)
        badge_lines = ["", b.indent + badge(res, results)]
        if (fault := b.directive("scenario")) and b.line == last_of.get(fault):
            found = next((s for s in scenarios if s.fault == fault), None)
            badge_lines += ["", b.indent + proof(found, fault, results)]
        if b.end_line < len(lines) and lines[b.end_line].strip():
            badge_lines.append("")
        inserts.setdefault(b.end_line, []).extend(badge_lines)

    out: list[str] = []
    for i, line in enumerate(lines):
        out.extend(inserts.get(i, []))
        if i not in drop:
            out.append(line)
    out.extend(inserts.get(len(lines), []))
    if failed and results is not None:
        out = _with_banner(out, failed, results)
    proc = next((p for p in results.procedures if p.page == page), None) if results else None
    if proc is not None and results is not None:
        i = _after_title(out)
        out = out[:i] + ["", under_traffic(proc, results), ""] + out[i:]
    return "\n".join(out)


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
        f"{escape(res.message[:300])}</span> {figures}"
    )


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


def _with_banner(lines: list[str], failed: list[BlockResult], results: RunResults) -> list[str]:
    """A failure admonition after the front matter and the page's first heading."""
    i = _after_title(lines)
    which = ", ".join(f"line {r.line}" for r in failed[:5])
    banner = [
        "",
        '!!! failure "Some commands on this page failed verification"',
        f"    In the run at {results.commit} on {_date(results.time)}, {len(failed)} command "
        f"block(s) on this page did not pass ({which}). Check them before relying on them.",
        "",
    ]
    return lines[:i] + banner + lines[i:]
