"""What `opsbook blocks list` reports: one row per block, and the counts over the site."""

from __future__ import annotations

from collections import Counter
from typing import Any

from opsbook.facts import Facts
from opsbook.harness.model import (
    SHELL_LANGS,
    Block,
    Classification,
    PagePlan,
    RunResults,
    TextFence,
)
from opsbook.harness.reading.adopt import NOT_ADOPTED

TARGETS = {"needs-kubernetes": "kubernetes", "production-only": "production",
           "staging-only": "staging"}


def target(c: Classification) -> str:
    """Where a block would run: the sandbox, or the environment its skip reason names."""
    if c.kind == "run":
        return "sandbox"
    if c.kind == "refused":
        return "refused"
    return TARGETS.get(c.reason.value if c.reason else "", "-")


def label(c: Classification) -> str:
    if c.kind == "skip":
        return f"skip:{c.reason.value if c.reason else '?'}"
    if c.kind == "run" and c.role != "main":
        return f"run:{c.role}"
    return c.kind


def _text_row(p: PagePlan, t: TextFence, by_block: dict[str | None, list[str]]) -> dict[str, Any]:
    return {
        "page": t.page, "line": t.line, "id": t.id, "lang": t.lang,
        "classification": "rendered-as-text", "role": None, "reason": None, "target": "-",
        "hidden": False, "adopted": p.adopted, "why": t.why,
        "problems": by_block.get(t.id, []), "body": "",
    }


def block_rows(pages: list[PagePlan]) -> list[dict[str, Any]]:
    """Shell blocks (and the output blocks attached to them), and every fence the site
    shows as text, in page order; each with its own problems."""
    rows = []
    for p in pages:
        by_block: dict[str | None, list[str]] = {}
        for pr in p.problems:
            by_block.setdefault(pr.block_id, []).append(str(pr))
        page_rows = []
        for b, c in p.classified:
            if b.lang not in SHELL_LANGS and c.kind != "output":
                continue
            bid = b.id
            kind = "unclassified" if bid in by_block else label(c)
            page_rows.append(
                {
                    "page": b.page,
                    "line": b.line,
                    "id": bid,
                    "lang": b.lang,
                    "classification": kind if p.adopted else "not-adopted",
                    "role": c.role,
                    "reason": c.reason.value if c.reason else None,
                    "target": target(c) if p.adopted else "-",
                    "hidden": b.hidden,
                    "adopted": p.adopted,
                    "why": c.why if p.adopted else NOT_ADOPTED,
                    "problems": by_block.get(bid, []),
                    "body": b.body,
                }
            )
        page_rows += [_text_row(p, t, by_block) for t in p.as_text]
        rows += sorted(page_rows, key=lambda r: r["line"])
    return rows


def steps(page: PagePlan) -> list[list[tuple[Block, Classification]]]:
    """The page's shell blocks grouped into steps: the variants of one command in one set
    of content tabs (Sandbox / Staging / Production, Docker Compose / Kubernetes) are one
    step. Consecutive tabbed blocks at one indentation form a set; a tab title seen again
    starts the next set, so two tab sets separated only by prose stay apart."""
    groups: list[list[tuple[Block, Classification]]] = []
    seen: set[str] = set()
    for b, c in page.shell:
        prev = groups[-1][-1][0] if groups else None
        same_set = (
            prev is not None and b.tabs and prev.tabs
            and len(b.tabs) == len(prev.tabs) and b.indent == prev.indent
            and b.tabs[:-1] == prev.tabs[:-1] and b.tabs[-1] not in seen
        )
        if same_set:
            groups[-1].append((b, c))
        else:
            groups.append([(b, c)])
            seen = set()
        if b.tabs:
            seen.add(b.tabs[-1])
    return groups


def summary(pages: list[PagePlan]) -> dict[str, int]:
    """Counts of shell blocks by classification; a block with any problem is unclassified.

    `steps` counts each set of environment variants once, and `steps run` those with at
    least one variant run: a Kubernetes or production variant beside a command that ran is
    not an unverified step, while a block skipped with no variant run is."""
    counts: Counter[str] = Counter()
    for p in pages:
        bad = {pr.block_id for pr in p.problems}
        counts["rendered as text"] += len(p.as_text)
        for b, c in p.shell:
            counts["shell blocks"] += 1
            if not p.adopted:
                counts["not adopted"] += 1
            elif b.id in bad:
                counts["unclassified"] += 1
            elif c.kind == "run":
                counts["run"] += 1
            elif c.kind == "skip":
                counts["skipped"] += 1
                counts[f"  skip:{c.reason.value if c.reason else '?'}"] += 1
            else:
                counts[c.kind] += 1
    for p in pages:
        bad = {pr.block_id for pr in p.problems}
        for group in steps(p):
            counts["steps"] += 1
            counts["steps run"] += p.adopted and any(
                c.kind == "run" and b.id not in bad for b, c in group)
    return {k: v for k, v in counts.items() if v or k in ("shell blocks", "steps", "steps run")}


def page_counts(pages: list[PagePlan]) -> list[dict[str, Any]]:
    """Per page: adopted or not, its counts and how many problems it has."""
    return [{"page": p.page, "adopted": p.adopted, "counts": summary([p]),
             "problems": len(p.problems)} for p in pages]


def scenario_rows(
    pages: list[PagePlan], facts: Facts | None, results: RunResults | None
) -> list[dict[str, Any]]:
    """Every scenario on the site, with its fault and its last result."""
    last = {(s.page, s.fault): s for s in results.scenarios} if results is not None else {}
    rows = []
    for page in pages:
        for plan in page.scenarios:
            fault = facts.fault(plan.fault) if facts is not None else None
            res = last.get((plan.page, plan.fault))
            rows.append(
                {
                    "id": plan.id,
                    "page": plan.page,
                    "line": plan.line,
                    "anchor": plan.anchor,
                    "fault": plan.fault,
                    "title": fault.title if fault else "",
                    "alerts": list(fault.alerts) if fault else [],
                    "last": None if res is None else {
                        "status": res.status,
                        "time": results.time if results else None,
                        "commit": results.commit if results else None,
                        "fired": res.fired,
                        "diagnosis_showed": res.diagnosis_showed,
                        "diagnosis_unchanged": res.diagnosis_unchanged,
                        "mitigated": res.mitigated,
                        "recovered": res.recovered,
                        "seconds_to_fire": res.seconds_to_fire,
                        "seconds_to_mitigate": res.seconds_to_mitigate,
                        "seconds": res.seconds,
                        "message": res.message,
                    },
                }
            )
    return rows
