"""Find every fenced block in a page the way the site's Markdown finds them.

The site uses pymdownx.superfences, which is a *line* preprocessor, not CommonMark:
- a fence opens at any indentation (inside admonitions, tabs, list items alike), and
  inside `>` blockquotes, with three or more backticks or tildes, optionally `lang`,
  `{attributes}` or options, if the site's superfences accepts that info string (the
  site's own Markdown is asked: `site_markdown.py`); otherwise the line is plain text, as
  is what follows it until another fence opens;
- content lines must be indented at least as far as the opening fence (in a blockquote:
  keep its `>` level), else the fence is abandoned and the site shows its lines as text;
- it closes only on exactly the same fence string (a *longer* closing fence is content!),
  at exactly the opening indentation;
- an unclosed fence is shown as text.
We follow those rules and, unlike the site, never drop anything silently: a fence shown
as text is a `TextFence` with a problem naming `page.md:LINE`. Structure is read on the
page as the site sees it (tabs expanded, unless superfences preserves them); a block's body
keeps its tabs, so a `<<-EOF` heredoc runs as written. `tests/test_harness_oracle.py`
proves the agreement by rendering every page and corpus file with Python-Markdown.

We also track the containers a fence sits in (content tabs, admonitions, list items) and
the `<!-- opsbook: ... -->` directives directly above it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opsbook.harness.model import Block, Directive, Problem, TextFence
from opsbook.harness.reading import directives as dmod
from opsbook.harness.reading import site_markdown
from opsbook.harness.reading.site_markdown import SiteMarkdown

TAB = 4
PREFIX_CHARS = (">", " ", "\t")  # superfences counts blockquote markers as indentation
# Same shape as superfences' RE_NESTED_FENCE_START (language, then attrs or options).
FENCE_RE = re.compile(
    r"""(?x)
    (?P<fence>~{3,}|`{3,})
    (?:[ \t]*\.?(?P<lang>[\w#.+-]+)(?=[\t ]|$))?
    (?P<rest>[^\n]*?)[ \t]*$
    """
)
CONTAINER_RE = re.compile(r"^(?P<kind>===[!+]?|\?\?\?\+?|!!!)[ \t]+(?P<rest>.*)$")
TITLE_RE = re.compile(r'"([^"]*)"')
SPACES_ONLY_RE = re.compile(r"(?m)^ +$")
_CONTAINER_STARTS = frozenset({"===", "???", "!!!"})  # what CONTAINER_RE can match


@dataclass(frozen=True)
class Extraction:
    """One page read: its code blocks, the fences it shows as text, and every problem."""

    blocks: list[Block]
    as_text: list[TextFence]
    problems: list[Problem]


@dataclass
class _Container:
    content_indent: int
    kind: str  # "tab", "admonition", "list"
    title: str


def _split_ws(line: str) -> tuple[int, str]:
    """(visual indentation, rest) with tabs expanded the way Markdown does."""
    rest = line.lstrip(" ")
    if not rest.startswith("\t"):  # spaces only: the common case, no tab arithmetic
        return len(line) - len(rest), rest
    col = 0
    i = 0
    while i < len(line) and line[i] in " \t":
        col = col + TAB - (col % TAB) if line[i] == "\t" else col + 1
        i += 1
    return col, line[i:]


def _prefix(line: str, tab: int = TAB) -> tuple[int, str, str]:
    """A fence line's prefix as superfences reads it (spaces, tabs and `>`):
    (characters, the prefix with tabs expanded, the rest)."""
    n = 0
    while n < len(line) and line[n] in PREFIX_CHARS:
        n += 1
    return n, line[:n].expandtabs(tab), line[n:]


def _consume(line: str, cols: int, tab: int = TAB) -> tuple[str, str]:
    """superfences' parse_fence_line: take prefix characters until `cols` columns are
    covered; (the prefix taken, tabs expanded; the rest as written)."""
    if line.startswith(" " * cols):  # indented by spaces at least that far: the common case
        return line[:cols], line[cols:]
    ws: list[str] = []
    width = 0
    n = 0
    for c in line:
        if width >= cols or c not in PREFIX_CHARS:
            break
        n += 1
        size = tab - (width % tab) if c == "\t" else 1
        ws.append(" " * size if c == "\t" else c)
        width += size
    return "".join(ws), line[n:]


def site_view(text: str, site: SiteMarkdown | None = None) -> str:
    """The page as the site's fence preprocessor sees it: Python-Markdown expands tabs and
    empties lines of spaces first, unless superfences preserves tabs."""
    site = site or site_markdown.default()
    if site.preserve_tabs:
        return text
    return SPACES_ONLY_RE.sub("", text.expandtabs(site.tab_length))


class Extractor:
    def __init__(self, page: str, text: str, site: SiteMarkdown | None = None) -> None:
        self.page = page
        self.site = site or site_markdown.default()
        self.raw = text.split("\n")  # bodies come from here: tabs kept for execution
        self.lines = site_view(text, self.site).split("\n")  # structure: as the site reads
        self.tab = self.site.tab_length
        self.blocks: list[Block] = []
        self.as_text: list[TextFence] = []
        self.problems: list[Problem] = []
        # problems of directives waiting for their fence: they belong to that block
        self.pending_problems: list[tuple[int, str]] = []
        self.containers: list[_Container] = []
        self.pending: list[Directive] = []
        self.pending_indent = -1

    def problem(self, lineno: int, message: str) -> None:
        self.problems.append(Problem(self.page, lineno, message))

    def shown_as_text(self, i: int, lang: str, info: str, why: str) -> None:
        """Lines[i] opens a fence the site shows as plain text: listed, with its problem."""
        fence = TextFence(self.page, i + 1, lang, info, why)
        self.as_text.append(fence)
        self.problems.append(Problem(self.page, i + 1, why, fence.id))

    # -- containers -----------------------------------------------------------------------
    def _enter_line(self, indent: int, rest: str) -> None:
        """Update the container stack for a non-blank line outside a fence."""
        while self.containers and self.containers[-1].content_indent > indent:
            self.containers.pop()
        m = CONTAINER_RE.match(rest) if rest[:3] in _CONTAINER_STARTS else None
        if m:
            kind = "tab" if m.group("kind").startswith("===") else "admonition"
            t = TITLE_RE.search(m.group("rest"))
            title = t.group(1) if t else m.group("rest").split()[0] if m.group("rest") else ""
            self.containers.append(_Container(indent + TAB, kind, title))
        elif self.site.list_re.match(rest):
            self.containers.append(_Container(indent + self.site.list_indent, "list", ""))

    def _tabs(self) -> tuple[str, ...]:
        return tuple(c.title for c in self.containers if c.kind == "tab")

    # -- fences ---------------------------------------------------------------------------
    def _fence(self, i: int, hidden: bool) -> int:
        """Lines[i] opens a fence: record the block (or the text the site shows instead),
        return the index of the next line to read."""
        nchars, ws, rest = _prefix(self.lines[i].rstrip("\r"), self.tab)
        m = FENCE_RE.match(rest)
        assert m
        indent = len(ws)
        quotes = ws.count(">")
        fence = m.group("fence")
        lang = (m.group("lang") or "").lower()
        info = m.group("rest").strip()
        if not lang and info.startswith("{"):
            cls = re.search(r"(?:^|\s|\{)\.([\w#+-]+)", info)
            lang = cls.group(1).lower() if cls else ""
        if not hidden and not self.site.accepts(rest.rstrip()):
            if self.pending or self.pending_problems:
                self._orphan_directives()
            self.shown_as_text(i, lang, info, f"rendered as text: the site's superfences does "
                f"not accept the info string {rest.strip()!r}, so it shows these lines as "
                f"plain text and they are not run; write it as ```{lang or 'LANG'} with "
                f"options it takes (title=..., hl_lines=...)")
            return i + 1  # superfences reads on from the next line
        # A fence indented a tab length past its container's content, after a blank line,
        # is inside an indented code block: the site shows the fence itself as code.
        base = self.containers[-1].content_indent if self.containers else 0
        swallowed = (not hidden and not quotes and indent - base >= self.tab
                     and (i == 0 or not self.lines[i - 1].strip()))
        end_re = re.compile(re.escape(fence) + r"[ \t]*$")
        body: list[str] = []
        empty = 0  # blank lines since the last content line (blockquote rule)
        j = i + 1
        while j < len(self.lines):
            line = self.lines[j].rstrip("\r")
            lws, content = _consume(line, indent, self.tab)
            level = lws.count(">")
            if quotes:  # superfences' eval_quoted
                ok = level <= quotes and not (self.site.quotes_logic and level != quotes)
                if ok and content == "":
                    empty += 1
                elif ok and len(lws) < nchars or ok and empty and level < quotes:
                    ok = False
                closing = ok and content != "" and end_re.match(content) is not None
            elif level == 0:  # eval_fence
                blank = (lws + content).strip() == ""
                ok = blank or len(lws) == indent or content == ""
                closing = (ok and not blank and end_re.match(content) is not None
                           and not content.startswith((" ", "\t")))
            else:  # a blockquote line inside a fence that is not in one
                ok = closing = False
            if not ok:
                why = "indented less than the opening fence" if not quotes else (
                    "out of the opening fence's blockquote")
                self.shown_as_text(i, lang, info, f"fence abandoned at line {j + 1}, which "
                    f"is {why}; the site shows these lines as plain text")
                return j + 1  # superfences does not rescan the abandoned lines
            if closing and swallowed:
                self._indented_code(i, j, lang, info, base + self.tab)
                return j + 1
            if closing:
                self._close(i, j, lang, info, body, ws, fence, hidden)
                return j + 1
            if content != "":
                empty = 0
            rws, rcontent = _consume(self.raw[j].rstrip("\r"), indent, self.tab)
            body.append((rws + rcontent)[indent:])
            j += 1
        self.shown_as_text(i, lang, info, f"fence ```{lang} is never closed (it needs a line "
            f"with exactly {fence} at the same indentation); the site shows it as plain text")
        return len(self.lines)

    def _indented_code(self, i: int, j: int, lang: str, info: str, cols: int) -> None:
        """Lines i..j, a fence inside an indented code block: the site shows them, fences
        included, as one plain code block. Listed as that block, never run."""
        self.shown_as_text(i, lang, info, f"shown as an indented code block, fences and all: "
            f"the fence is indented {cols - self.tab}+{self.tab} columns, a tab length past its "
            f"container's content, so it is not run; indent it like the text around it")
        shown = [(lambda p: (p[0] + p[1])[cols:])(_consume(self.raw[k].rstrip("\r"), cols,
                 self.tab)) for k in range(i, j + 1)]
        if self.pending or self.pending_problems:
            self._orphan_directives()
        self.blocks.append(Block(self.page, i + 1, j + 1, "", "", "\n".join(shown),
                                 " " * cols, "", self._tabs()))

    def _close(
        self, i: int, j: int, lang: str, info: str, body: list[str], ws: str, fence: str,
        hidden: bool,
    ) -> None:
        indent = len(ws)
        block = Block(
            page=self.page,
            line=i + 1,
            end_line=j + 1,
            lang=lang,
            info=info,
            body="\n".join(body),
            indent=ws,
            fence=fence,
            tabs=self._tabs(),
            directives=tuple(self.pending) if self.pending_indent == indent else (),
            hidden=hidden,
        )
        self.blocks.append(block)
        if self.pending_indent == indent:
            self.problems += [Problem(self.page, n, m, block.id)
                              for n, m in self.pending_problems]
            self.pending_problems = []
        if self.pending and self.pending_indent != indent:
            self._orphan_directives()
        self.pending = []

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
            comment = rest.startswith("<!--")
            if comment and dmod.OPEN_RE.match(rest):
                i = self._comment(i)
                continue
            if comment and (hint := dmod.misspelled(rest)):
                # would otherwise be an ordinary comment, and its block would run unmarked
                self.pending_problems.append((i + 1, hint))
                self.pending_indent = indent
                if "-->" not in rest:
                    in_comment = True
                i += 1
                continue
            if comment and "-->" not in rest:
                in_comment = True
                i += 1
                continue
            if ("```" in line or "~~~" in line) and FENCE_RE.match(
                _prefix(line, self.tab)[2]
            ):  # also inside `>` blockquotes
                i = self._fence(i, hidden=False)
                continue
            if self.pending or self.pending_problems:
                self._orphan_directives()
            i += 1
        if self.pending or self.pending_problems:
            self._orphan_directives()
        return self.blocks


def read(page: str, text: str, site: SiteMarkdown | None = None) -> Extraction:
    """Every fenced block on the page, in page order, the fences the site shows as text,
    and every problem found on the way. `site`: the site's Markdown (default: opsbook's)."""
    ex = Extractor(page, text, site)
    ex.run()
    return Extraction(ex.blocks, ex.as_text, ex.problems)


def extract(
    page: str, text: str, site: SiteMarkdown | None = None
) -> tuple[list[Block], list[Problem]]:
    """`read()` without the fences shown as text (their problems are still there)."""
    found = read(page, text, site)
    return found.blocks, found.problems
