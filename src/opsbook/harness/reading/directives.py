"""Parse `<!-- opsbook: key=value flag key="quoted value" -->` directive text.

The grammar is deliberately small: whitespace-separated items, each `key`, `key=value`
or `key="value with spaces"`. Keys and values are validated by `classify`, which knows
what they mean; this module only tokenizes and reports where a comment is malformed.
"""

from __future__ import annotations

import difflib
import re

from opsbook.harness.model import Directive

PREFIX = "opsbook:"
OPEN_RE = re.compile(r"^<!--\s*opsbook:(?P<rest>.*)$")
_ITEM_RE = re.compile(
    r'\s*(?P<key>[a-z][a-z0-9-]*)(?:=(?:"(?P<q>[^"]*)"|(?P<v>[^\s"=]+)))?(?=\s|$)'
)


_WORD_RE = re.compile(r"^<!--\s*([A-Za-z][A-Za-z_-]*)\s*(:?)")


def misspelled(line: str) -> str | None:
    """A hint if `line` opens a comment meant as a directive but not written as one
    (`<!-- opsbok: ...`, `<!-- Opsbook: ...`, `<!-- opsbook skip=...`), else None."""
    if OPEN_RE.match(line) or not (m := _WORD_RE.match(line)):
        return None
    word = m.group(1).lower()
    if word != "opsbook" and difflib.SequenceMatcher(None, word, "opsbook").ratio() < 0.8:
        return None
    return (
        f"{line.strip()[:60]!r} looks like an opsbook directive but is not one; "
        "write it exactly as `<!-- opsbook: key=value -->` (lower case, with the colon)"
    )


class DirectiveSyntaxError(ValueError):
    pass


def tokenize(text: str) -> tuple[tuple[str, str | None], ...]:
    """'skip=destructive timeout=30 setup' -> (('skip','destructive'), ('timeout','30'), ...)."""
    items: list[tuple[str, str | None]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _ITEM_RE.match(text, pos)
        if not m:
            raise DirectiveSyntaxError(
                f"cannot read {text[pos:].strip()!r} (expected key or key=value)"
            )
        value = m.group("q") if m.group("q") is not None else m.group("v")
        items.append((m.group("key"), value))
        pos = m.end()
    return tuple(items)


def parse(text: str, line: int, end_line: int) -> Directive:
    """`text` is everything between `opsbook:` and `-->` (newlines allowed)."""
    return Directive(line=line, end_line=end_line, keys=tokenize(" ".join(text.split("\n"))))
