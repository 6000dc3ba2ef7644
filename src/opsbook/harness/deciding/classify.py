"""Decide, for every block, whether it runs, is skipped (and why), or is refused.

Rules (also in the docs for authors):
- `bash`, `sh`, `shell`, `console` blocks run unless a directive or an inference says
  otherwise. Inferences from the content tab a block sits in: "Kubernetes" ->
  needs-kubernetes, "Staging" -> staging-only, "Production" -> production-only.
- Situations we cannot decide alone are errors naming page:line, never guesses:
  `kubectl`/`helm` outside a Kubernetes tab, `<placeholder>` values, unknown or malformed
  directives, directives on blocks that cannot take them.
- A block naming a staging/production URL, host or kube context from the facts is refused.
- Expected output of a bash block: a `text` or `output` fence that follows the shell
  block's closing fence with only blank lines between, at the same indentation; or any
  `text`/`output` block carrying `<!-- opsbook: output -->`, which attaches it to the
  shell block just before it (so a sentence like "You should see:" may sit in between).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import replace

from opsbook.harness.model import (
    OUTPUT_LANGS,
    SHELL_LANGS,
    Backend,
    Block,
    Classification,
    Command,
    Phase,
    Problem,
    SkipReason,
)
from opsbook.harness.running.isolation import Forbidden

DEFAULT_TIMEOUT = 120.0
# A content tab's title says where its blocks run; the harness only reaches the sandbox.
COMPOSE_TABS = frozenset({"docker compose", "compose"})
TAB_REASONS = {
    "kubernetes": SkipReason.needs_kubernetes,
    "staging": SkipReason.staging_only,
    "production": SkipReason.production_only,
}
KNOWN_KEYS = {
    "skip": "skip=REASON, one of " + ", ".join(r.value for r in SkipReason),
    "expect-exit": "expect-exit=N (the exit status the block ends with)",
    "timeout": "timeout=SECONDS (per attempt; default 120)",
    "retry": "retry=SECONDS (re-run until it passes, within this deadline)",
    "setup": "setup (runs before the page's other blocks)",
    "teardown": "teardown (runs after the page's other blocks, even after a failure)",
    "event": "event (a hidden block that runs in its place: what the sandbox stands in "
    "for, such as the data loss a restore recovers from)",
    "output": "output (on a text/output block: expected output of the shell block before it)",
    "expect": "expect=regex (expected output lines are regular expressions)",
    "scenario": "scenario=FAULT (runs while that fault of facts/faults.yml is injected)",
    "phase": "phase=diagnosis|mitigation (the block's part of the scenario's runbook)",
}
# The Compose sandbox's own tools: not there on the kind backend.
COMPOSE_RE = re.compile(
    r"(?:^|[\s;|&(`$])docker(?:-compose)?(?=\s|$)|\$\{?COMPOSE_FILE\b", re.M
)
KUBE_RE = re.compile(r"(?:^|[\s;|&(`$])(?:kubectl|helm|k9s)(?=\s|$)", re.M)
PLACEHOLDER_RE = re.compile(r"(?<![<\w])<([A-Za-z][A-Za-z0-9_-]*)>(?!>)")
HEREDOC_RE = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")




def _add(problems: list[Problem], block: Block, message: str, line: int | None = None) -> None:
    problems.append(Problem.on(block, message, line))


def _number(block: Block, key: str, value: str | None, problems: list[Problem]) -> float | None:
    try:
        n = float(value or "")
        if not math.isfinite(n) or n <= 0:
            raise ValueError
        return n
    except ValueError:
        _add(problems, block, f"{key}={value} is not a positive, finite number of seconds")
        return None


def _validate(block: Block, problems: list[Problem]) -> None:
    for d in block.directives:
        for key, value in d.keys:
            if key not in KNOWN_KEYS:
                _add(
                    problems,
                    block,
                    f"unknown opsbook directive {key!r}; known: "
                    + "; ".join(KNOWN_KEYS.values()),
                    line=d.line,
                )
            elif key in ("setup", "teardown", "output", "event") and value is not None:
                _add(problems, block, f"{key} takes no value", line=d.line)
            elif key in ("skip", "expect-exit", "timeout", "retry", "expect", "scenario",
                         "phase") and value is None:
                _add(
                    problems, block, f"{key} needs a value: {KNOWN_KEYS[key]}", line=d.line
                )


def classify_block(
    block: Block, forbidden: Forbidden, problems: list[Problem], backend: Backend = "compose"
) -> Classification:
    """`backend` "kind": the Kubernetes tabs run, and what belongs to the Compose sandbox
    (its tab, docker commands, fault scenarios and hidden events, which inject through
    Compose) is skipped as compose-only."""
    _validate(block, problems)
    if block.lang not in SHELL_LANGS:
        keys = {k for d in block.directives for k, _ in d.keys}
        if block.lang in OUTPUT_LANGS and keys <= {"output", "expect"}:
            return Classification(kind="other")
        if keys or block.hidden:
            _add(problems, block, f"opsbook directives apply to bash/sh/shell/console blocks "
                f"(and `output` to text blocks), not to a {block.lang or 'plain'!r} block"
            )
        return Classification(kind="other")

    role = "main"
    if block.has_directive("setup"):
        role = "setup"
    if block.has_directive("teardown"):
        if role == "setup":
            _add(problems, block, "a block cannot be both setup and teardown")
        role = "teardown"
    if block.hidden and role == "main" and not block.has_directive("event"):
        _add(problems, block, "a hidden block must be `setup`, `teardown` or `event`")
    if block.has_directive("event") and not (block.hidden and role == "main"):
        _add(problems, block, "`event` is for a hidden block that runs in its place, "
             "not setup or teardown")

    expect_exit = 0
    if (v := block.directive("expect-exit")) is not None:
        if v.isdigit() and int(v) < 256:
            expect_exit = int(v)
        else:
            _add(problems, block, f"expect-exit={v} is not an exit status (0-255)")
    timeout = DEFAULT_TIMEOUT
    if block.has_directive("timeout"):
        timeout = _number(block, "timeout", block.directive("timeout"), problems) or timeout
    retry = None
    if block.has_directive("retry"):
        retry = _number(block, "retry", block.directive("retry"), problems)
    regex = False
    if (v := block.directive("expect")) is not None:
        if v == "regex":
            regex = True
        elif v != "exact":
            _add(problems, block, f"expect={v}: use expect=regex or expect=exact")
    scenario = block.directive("scenario")
    phase: Phase | None = None
    if (v := block.directive("phase")) == "diagnosis":
        phase = "diagnosis"
    elif v == "mitigation":
        phase = "mitigation"
    elif v is not None:
        _add(problems, block, f"phase={v}: use phase=diagnosis or phase=mitigation")
    if (scenario is None) != (block.directive("phase") is None):
        _add(problems, block, "a scenario block needs both scenario=FAULT and phase=...")
    if scenario is not None and role != "main":
        _add(problems, block, f"a {role} block cannot be part of a scenario")
    base = Classification(
        kind="run",
        role=role,
        expect_exit=expect_exit,
        timeout=timeout,
        retry=retry,
        regex=regex,
        scenario=scenario,
        phase=phase,
    )

    if (v := block.directive("skip")) is not None:
        try:
            reason = SkipReason(v)
        except ValueError:
            _add(problems, block, f"unknown skip reason {v!r}; use one of "
                + ", ".join(r.value for r in SkipReason)
            )
            reason = SkipReason.illustrative
        if role != "main":
            _add(problems, block, f"a {role} block cannot be skipped")
        return replace(base, kind="skip", reason=reason, why="directive")
    for tab in block.tabs:
        title = tab.strip().lower()
        if backend == "kind" and title == "kubernetes":
            continue
        if backend == "kind" and title in COMPOSE_TABS:
            return replace(base, kind="skip", reason=SkipReason.compose_only,
                           why=f"{tab.strip()} tab")
        if (reason := TAB_REASONS.get(title)) is not None:
            return replace(base, kind="skip", reason=reason, why=f"{tab.strip()} tab")

    code = _code_only(block)
    if hit := forbidden.find(code):
        return replace(
            base,
            kind="refused",
            why=f"names {hit[1]} ({hit[0]}); the harness only talks to the sandbox",
        )
    if backend == "kind" and (
        COMPOSE_RE.search(code) or scenario is not None or block.has_directive("event")
    ):
        why = ("a fault scenario (injected through Compose)" if scenario is not None
               else "a sandbox event (made through Compose)" if block.has_directive("event")
               else "uses the Compose sandbox's docker commands")
        return replace(base, kind="skip", reason=SkipReason.compose_only, why=why)
    in_kubernetes_tab = any(t.strip().lower() == "kubernetes" for t in block.tabs)
    if KUBE_RE.search(code) and not in_kubernetes_tab:
        _add(
            problems,
            block,
            'uses kubectl/helm outside a content tab titled "Kubernetes"; '
            "put it in one or add <!-- opsbook: skip=needs-kubernetes -->"
        )
    if m := PLACEHOLDER_RE.search(code):
        _add(problems, block, f"contains the placeholder <{m.group(1)}>; use a real value or add "
            "<!-- opsbook: skip=illustrative -->"
        )
    return base


def _code_only(block: Block) -> str:
    """The shell source of a block (console: only the commands, not the output)."""
    if block.lang != "console":
        return block.body
    return "\n".join(c.text for c in console_commands(block, []))


def console_commands(block: Block, problems: list[Problem]) -> list[Command]:
    """`$ cmd` lines (with `\\` / `> ` continuations and heredocs) and the output beneath."""
    lines = block.body.split("\n")
    first = block.line + 1
    commands: list[tuple[int, list[str], list[str], int]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line == "$" or line.startswith("$ "):
            start = i
            src = [line[2:]]
            i += 1
            while i < len(lines) and (src[-1].endswith("\\") or lines[i].startswith("> ")):
                src.append(lines[i][2:] if lines[i].startswith("> ") else lines[i])
                i += 1
            if m := HEREDOC_RE.search("\n".join(src)):
                while i < len(lines):
                    src.append(lines[i])
                    i += 1
                    if src[-1].strip() == m.group(2):
                        break
            commands.append((first + start, src, [], first + i))
        elif not commands:
            if line.strip():
                _add(
                    problems,
                    block,
                    "console output before the first `$ ` prompt",
                    line=first + i,
                )
            i += 1
        else:
            commands[-1][2].append(line)
            i += 1
    if not commands:
        _add(problems, block, "console block without a `$ ` prompt")
    out = []
    for line, src, output, out_line in commands:
        while output and not output[-1].strip():
            output.pop()
        out.append(
            Command(
                line=line,
                text="\n".join(src),
                expected=tuple(output) or None,
                expected_line=out_line,
            )
        )
    return out


def _attach_outputs(
    blocks: list[Block],
    classes: list[Classification],
    lines: list[str] | None,
    problems: list[Problem],
) -> None:
    for i, b in enumerate(blocks):
        if b.lang not in OUTPUT_LANGS or i == 0:
            if b.lang in OUTPUT_LANGS and b.has_directive("output"):
                _add(problems, b, "`output` block has no shell block before it")
            continue
        prev, pcls = blocks[i - 1], classes[i - 1]
        explicit = b.has_directive("output")
        first = b.directives[0].line if b.directives else b.line
        adjacent = (
            lines is not None
            and prev.indent == b.indent
            and all(not lines[k].strip() for k in range(prev.end_line, first - 1))
        )
        if not (explicit or adjacent):
            continue
        if prev.lang not in SHELL_LANGS or prev.hidden:
            if explicit:
                _add(problems, b, "`output` block does not follow a shell block")
            continue
        if prev.lang == "console":
            _add(
                problems,
                b,
                "output block after a console block; put the output under the `$ ` line",
            )
            continue
        classes[i - 1] = replace(
            pcls, output_block=b, regex=pcls.regex or b.directive("expect") == "regex"
        )
        classes[i] = replace(classes[i], kind="output")


def classify_page(
    blocks: Iterable[Block],
    forbidden: Forbidden,
    text: str | None = None,
    backend: Backend = "compose",
) -> tuple[list[tuple[Block, Classification]], list[Problem]]:
    """Classify one page's blocks; `text` (the page) enables the adjacency rule for output."""
    blocks = list(blocks)
    problems: list[Problem] = []
    classes = [classify_block(b, forbidden, problems, backend) for b in blocks]
    _attach_outputs(blocks, classes, text.split("\n") if text is not None else None, problems)
    return list(zip(blocks, classes, strict=True)), problems

