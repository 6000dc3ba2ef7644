"""`opsbook test --update`: rewrite expected output on the source pages from what ran.

Results point at lines of the *rendered* page; authors edit the *source* template. We
find the same block in the source (by its exact text) and rewrite only there; when the
expected output is produced by the template (a fact, a loop, an include) the text is not
in the source verbatim and we say so instead of guessing. Wildcards and kept pattern
lines survive (see `expect.updated`).
"""

from __future__ import annotations

from pathlib import Path

from opsbook.harness.deciding import expect
from opsbook.harness.model import BlockResult, PagePlan, Step
from opsbook.harness.reading.extract import extract


def _edits(step: Step, res: BlockResult) -> list[tuple[int, int, list[str]]]:
    """(first, last) 1-based rendered-page lines of expected output -> new lines."""
    edits = []
    for i, cmd in enumerate(step.commands):
        if cmd.expected is None or i >= len(res.outputs):
            continue
        if expect.matches(cmd.expected, res.outputs[i], step.classification.regex):
            continue
        new = expect.updated(cmd.expected, res.outputs[i], step.classification.regex)
        edits.append((cmd.expected_line, cmd.expected_line + len(cmd.expected) - 1, new))
    return edits


def update_page(page: PagePlan, results: list[BlockResult], source: Path) -> list[str]:
    """Apply edits to `source`; returns one message per block updated or not updatable."""
    by_line = {r.line: r for r in results}
    src_text = source.read_text(encoding="utf-8")
    src_lines = src_text.split("\n")
    src_blocks, _ = extract(page.page, src_text)
    messages: list[str] = []
    pending: list[tuple[int, int, list[str]]] = []
    for step in page.steps:
        res = by_line.get(step.block.line)
        if res is None or res.status != "failed" or not res.outputs:
            continue
        for first, last, new in _edits(step, res):
            # the block holding the expected lines: the console block or its output block
            holder = step.classification.output_block or step.block
            twins = [b for b in src_blocks if b.body == holder.body and b.lang == holder.lang]
            if len(twins) != 1:
                messages.append(
                    f"{page.page}:{first}: expected output comes from the template (or appears "
                    "more than once); update it by hand"
                )
                continue
            shift = twins[0].line - holder.line
            indent = holder.indent
            pending.append((first + shift, last + shift, [indent + x if x else x for x in new]))
            messages.append(f"{page.page}:{first}: expected output updated in {source}")
    for first, last, new in sorted(pending, reverse=True):
        src_lines[first - 1 : last] = new
    if pending:
        source.write_text("\n".join(src_lines), encoding="utf-8")
    return messages
