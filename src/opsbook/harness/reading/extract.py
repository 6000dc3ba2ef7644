"""Find every fenced block in a page the way the site's Markdown finds them.

The site uses pymdownx.superfences, which is a *line* preprocessor, not CommonMark:
- a fence opens at any indentation (inside admonitions, tabs, list items alike) with
  three or more backticks or tildes, optionally `lang`, `{attributes}` or options;
- content lines must be indented at least as far as the opening fence, else the fence is
  abandoned and the site shows its lines as plain text;
- it closes only on exactly the same fence string (a *longer* closing fence is content!),
  at exactly the opening indentation;
- an unclosed fence is shown as text.
We follow those rules and, unlike the site, never drop anything silently: an abandoned or
unclosed fence is an error naming `page.md:LINE`. `tests/test_harness_oracle.py` proves the
agreement by rendering every page and corpus file with Python-Markdown.

We also track the containers a fence sits in (content tabs, admonitions, list items) and
the `<!-- opsbook: ... -->` directives directly above it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opsbook.harness.model import Block, Directive, Problem
from opsbook.harness.reading import directives as dmod

TAB = 4
# Same shape as superfences' RE_NESTED_FENCE_START (language, then attrs or options).
FENCE_RE = re.compile(
    r"""(?x)
    (?P<fence>~{3,}|`{3,})
    (?:[ \t]*\.?(?P<lang>[\w#.+-]+)(?=[\t ]|$))?
    (?P<rest>[^\n]*?)[ \t]*$
    """
)
CONTAINER_RE = re.compile(r"^(?P<kind>===[!+]?|\?\?\?\+?|!!!)[ \t]+(?P<rest>.*)$")
LIST_RE = re.compile(r"^(?:\d+[.)]|[-*+])[ \t]+\S")
TITLE_RE = re.compile(r'"([^"]*)"')


@dataclass
class _Container:
    content_indent: int
    kind: str  # "tab", "admonition", "list"
    title: str


def _split_ws(line: str) -> tuple[int, str]:
    """(visual indentation, rest) with tabs expanded the way Markdown does."""
    col = 0
    i = 0
    while i < len(line) and line[i] in " \t":
        col = col + TAB - (col % TAB) if line[i] == "\t" else col + 1
        i += 1
    return col, line[i:]


def _strip_cols(line: str, cols: int) -> str:
    """Remove `cols` visual columns of leading whitespace (fewer if the line has fewer)."""
    expanded = line.expandtabs(TAB) if line[: len(line) - len(line.lstrip())].count("\t") else line
    n = 0
    while n < cols and n < len(expanded) and expanded[n] == " ":
        n += 1
    return expanded[n:]


class Extractor:
    def __init__(self, page: str, text: str) -> None:
        self.page = page
        self.lines = text.split("\n")
        self.blocks: list[Block] = []
        self.problems: list[Problem] = []
        # problems of directives waiting for their fence: they belong to that block
        self.pending_problems: list[tuple[int, str]] = []
        self.containers: list[_Container] = []
        self.pending: list[Directive] = []
        self.pending_indent = -1

    def problem(self, lineno: int, message: str) -> None:
        self.problems.append(Problem(self.page, lineno, message))

    # -- containers -----------------------------------------------------------------------
    def _enter_line(self, indent: int, rest: str) -> None:
        """Update the container stack for a non-blank line outside a fence."""
        while self.containers and self.containers[-1].content_indent > indent:
            self.containers.pop()
        m = CONTAINER_RE.match(rest)
        if m:
            kind = "tab" if m.group("kind").startswith("===") else "admonition"
            t = TITLE_RE.search(m.group("rest"))
            title = t.group(1) if t else m.group("rest").split()[0] if m.group("rest") else ""
            self.containers.append(_Container(indent + TAB, kind, title))
        elif LIST_RE.match(rest):
            self.containers.append(_Container(indent + TAB, "list", ""))

    def _tabs(self) -> tuple[str, ...]:
        return tuple(c.title for c in self.containers if c.kind == "tab")

    # -- fences ---------------------------------------------------------------------------
    def _fence(self, i: int, hidden: bool) -> int:
        """Lines[i] opens a fence: record the block, return the index after its close."""
        indent, rest = _split_ws(self.lines[i])
        m = FENCE_RE.match(rest)
        assert m
        fence = m.group("fence")
        lang = (m.group("lang") or "").lower()
        info = m.group("rest").strip()
        if not lang and info.startswith("{"):
            cls = re.search(r"(?:^|\s|\{)\.([\w#+-]+)", info)
            lang = cls.group(1).lower() if cls else ""
        end_re = re.compile(re.escape(fence) + r"[ \t]*$")
        body: list[str] = []
        j = i + 1
        while j < len(self.lines):
            line = self.lines[j].rstrip("\r")
            lind, lrest = _split_ws(line)
            if lrest == "":
                body.append("")
            elif lind < indent:
                self.problem(i + 1, f"fence abandoned at line {j + 1}, which is indented "
                    f"less than the opening fence; the site shows these lines as plain text"
                )
                return j + 1  # superfences does not rescan the abandoned lines
            elif lind == indent and end_re.match(lrest):
                self.blocks.append(
                    Block(
                        page=self.page,
                        line=i + 1,
                        end_line=j + 1,
                        lang=lang,
                        info=info,
                        body="\n".join(body),
                        indent=" " * indent,
                        fence=fence,
                        tabs=self._tabs(),
                        directives=tuple(self.pending) if self.pending_indent == indent else (),
                        hidden=hidden,
                    )
                )
                block = self.blocks[-1]
                if self.pending_indent == indent:
                    self.problems += [Problem(self.page, n, m, block.id)
                                      for n, m in self.pending_problems]
                    self.pending_problems = []
                if self.pending and self.pending_indent != indent:
                    self._orphan_directives()
                self.pending = []
                return j + 1
            else:
                body.append(_strip_cols(line, indent))
            j += 1
        self.problem(i + 1, f"fence ```{lang} is never closed (it needs a line with exactly "
            f"{fence} at the same indentation); the site shows it as plain text"
        )
        return len(self.lines)

    def _orphan_directives(self) -> None:
        self.problems += [Problem(self.page, n, m) for n, m in self.pending_problems]
        self.pending_problems = []
        for d in self.pending:
            self.problem(d.line, "opsbook directive is not directly followed by a fence "
                "at the same indentation"
            )
        self.pending = []

    # -- comments -------------------------------------------------------------------------
    def _comment(self, i: int) -> int:
        """Lines[i] starts `<!-- opsbook:`; parse it (and a hidden fence); return next index."""
        indent, rest = _split_ws(self.lines[i])
        m = dmod.OPEN_RE.match(rest)
        assert m
        text = m.group("rest")
        if "-->" in text:
            head, _, tail = text.partition("-->")
            if tail.strip():
                self.problem(i + 1, "text after --> on a directive line")
            self._add_directive(head, i, i, indent)
            return i + 1
        parts = [text]
        j = i + 1
        hidden_at = None
        while j < len(self.lines):
            lind, lrest = _split_ws(self.lines[j])
            if lrest.startswith("-->"):
                break
            if FENCE_RE.match(lrest) and lrest[:3] in ("```", "~~~"):
                hidden_at = j
                break
            parts.append(lrest)
            j += 1
        else:
            self.problem(i + 1, "opsbook directive comment is never closed")
            return len(self.lines)
        if hidden_at is None:
            self._add_directive("\n".join(parts), i, j, indent)
            return j + 1
        # Hidden form: <!-- opsbook: setup \n ```bash ... ``` \n -->
        if not self._add_directive("\n".join(parts), i, hidden_at - 1, indent):
            return hidden_at
        before = len(self.blocks)
        k = self._fence(hidden_at, hidden=True)
        if len(self.blocks) == before:
            return k
        while k < len(self.lines) and self.lines[k].strip() == "":
            k += 1
        if k >= len(self.lines) or not self.lines[k].strip().startswith("-->"):
            self.problem(i + 1, "a hidden opsbook block needs --> on its own line after it"
            )
            return k
        return k + 1

    def _add_directive(self, text: str, i: int, j: int, indent: int) -> bool:
        try:
            d = dmod.parse(text, i + 1, j + 1)
        except dmod.DirectiveSyntaxError as exc:
            # kept for the block it stands above: that block must not run as if unmarked
            self.pending_problems.append((i + 1, f"malformed opsbook directive: {exc}"))
            self.pending_indent = indent
            return False
        if self.pending and self.pending_indent != indent:
            self._orphan_directives()
        self.pending.append(d)
        self.pending_indent = indent
        # The next line must be a fence or another directive (checked by the main loop).
        return True

    # -- main loop ------------------------------------------------------------------------
    def run(self) -> list[Block]:
        i = 0
        in_comment = False
        while i < len(self.lines):
            line = self.lines[i].rstrip("\r")
            indent, rest = _split_ws(line)
            if in_comment:  # inside an ordinary HTML comment: the site shows none of it
                if "-->" in line:
                    in_comment = False
                i += 1
                continue
            if rest == "":
                if self.pending or self.pending_problems:
                    self._orphan_directives()
                i += 1
                continue
            self._enter_line(indent, rest)
            if dmod.OPEN_RE.match(rest):
                i = self._comment(i)
                continue
            if rest.startswith("<!--") and (hint := dmod.misspelled(rest)):
                # would otherwise be an ordinary comment, and its block would run unmarked
                self.pending_problems.append((i + 1, hint))
                self.pending_indent = indent
                if "-->" not in rest:
                    in_comment = True
                i += 1
                continue
            if rest.startswith("<!--") and "-->" not in rest:
                in_comment = True
                i += 1
                continue
            m = FENCE_RE.match(rest)
            if m:
                i = self._fence(i, hidden=False)
                continue
            if self.pending or self.pending_problems:
                self._orphan_directives()
            i += 1
        if self.pending or self.pending_problems:
            self._orphan_directives()
        return self.blocks



def extract(page: str, text: str) -> tuple[list[Block], list[Problem]]:
    """Every fenced block on the page, in page order, and every problem found on the way."""
    ex = Extractor(page, text)
    return ex.run(), ex.problems
