"""Expected-output matching: exact by default, `...` wildcards, opt-in regular expressions.

- Lines are compared after dropping trailing whitespace, `\\r`, ANSI colours, and trailing
  blank lines (a terminal shows none of these differences).
- A line that is exactly `...` matches any number of lines, zero included.
- `...` inside a line matches any text within that line.
- With `<!-- opsbook: expect=regex -->` every other line is a Python regular expression
  that must match the whole line (`...` lines keep their meaning).
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

WILDCARD = "..."
MATCH = 3  # update-mode score of a kept pattern line (a wildcard-absorbed line scores 1)
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def normalize(text: str) -> list[str]:
    lines = [ANSI_RE.sub("", line).rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _clean_expected(expected: tuple[str, ...] | list[str]) -> list[str]:
    lines = [line.rstrip() for line in expected]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@lru_cache(maxsize=4096)
def _line_re(pattern: str, regex: bool) -> re.Pattern[str]:
    if regex:
        return re.compile(pattern)
    return re.compile(".*?".join(re.escape(part) for part in pattern.split(WILDCARD)), re.S)


def line_matches(pattern: str, line: str, regex: bool = False) -> bool:
    try:
        return _line_re(pattern, regex).fullmatch(line) is not None
    except re.error:
        return False


def matches(expected: tuple[str, ...] | list[str], actual: str, regex: bool = False) -> bool:
    pats = _clean_expected(expected)
    got = normalize(actual)
    # Iterative NFA over pattern positions: small, linear in len(got) * len(pats).
    states = _closure({0}, pats)
    for line in got:
        nxt: set[int] = set()
        for i in states:
            if i < len(pats):
                if pats[i].strip() == WILDCARD:
                    nxt.add(i)
                elif line_matches(pats[i], line, regex):
                    nxt.add(i + 1)
        states = _closure(nxt, pats)
        if not states:
            return False
    return len(pats) in states


def _closure(states: set[int], pats: list[str]) -> set[int]:
    out = set(states)
    todo = list(states)
    while todo:
        i = todo.pop()
        if i < len(pats) and pats[i].strip() == WILDCARD and i + 1 not in out:
            out.add(i + 1)
            todo.append(i + 1)
    return out


def diff(expected: tuple[str, ...] | list[str], actual: str, where: str) -> str:
    return "\n".join(
        difflib.unified_diff(
            _clean_expected(expected),
            normalize(actual),
            f"expected ({where})",
            "actual",
            lineterm="",
        )
    )


def updated(expected: tuple[str, ...] | list[str], actual: str, regex: bool = False) -> list[str]:
    """New expected lines from `actual`, keeping every pattern line that still matches a line
    and every `...` (which absorbs the lines it stands for). Used by `opsbook test --update`."""
    pats = _clean_expected(expected)
    if matches(pats, actual, regex):
        return pats
    got = normalize(actual)
    n, m = len(pats), len(got)
    # best[i][j]: score of aligning pats[i:] with got[j:]; a pattern line matching scores
    # more than a `...` absorbing a line, so patterns are kept where they still apply.
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        wild = pats[i].strip() == WILDCARD
        for j in range(m, -1, -1):
            options = [best[i + 1][j]]
            if j < m:
                if wild:
                    options.append(best[i][j + 1] + 1)
                elif line_matches(pats[i], got[j], regex):
                    options.append(best[i + 1][j + 1] + MATCH)
                options.append(best[i][j + 1])  # emit the actual line literally
            best[i][j] = max(options)
    out: list[str] = []
    i = j = 0
    absorbing = False
    while i < n or j < m:
        if i < n and pats[i].strip() == WILDCARD:
            if j < m and best[i][j] == best[i][j + 1] + 1:
                if not absorbing:
                    out.append(pats[i])
                    absorbing = True
                j += 1
                continue
            if not absorbing and best[i][j] == best[i + 1][j] and j == m:
                out.append(pats[i])  # keep a wildcard that now absorbs nothing at the end
            absorbing = False
            i += 1
            continue
        if (
            i < n
            and j < m
            and line_matches(pats[i], got[j], regex)
            and (best[i][j] == best[i + 1][j + 1] + MATCH)
        ):
            out.append(pats[i])
            i += 1
            j += 1
        elif i < n and best[i][j] == best[i + 1][j]:
            i += 1
        else:
            out.append(got[j])
            j += 1
    return out
