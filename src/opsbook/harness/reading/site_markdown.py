"""The site's own Markdown, asked what it renders: which fence openings are code blocks.

Superfences decides from a fence's opening line alone whether the fence is a code block:
its validators (the highlighter's for ordinary fences, a custom fence's own) accept the
language and the options, or the line is plain text (legacy `tab="..."` options, an
option the highlighter does not take, a stray word). Rather than re-implement those rules
(custom validators are code), we ask a Markdown instance built with the site's own
extensions and configs: it is the same code that builds the site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import markdown as mdlib

from opsbook.sitefile import SiteFile

OPENING_RE = re.compile(r"^(?P<fence>~{3,}|`{3,})")


@dataclass(frozen=True)
class SiteMarkdown:
    """One site's Markdown configuration, built once and asked about fence openings."""

    site: SiteFile
    _verdicts: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def _built(self) -> tuple[mdlib.Markdown, tuple[str, ...]]:
        md = mdlib.Markdown()
        missing: list[str] = []
        for name in self.site.extensions:
            try:
                md.registerExtensions([name], self.site.configs)
            except Exception as exc:  # noqa: BLE001 - an extension the build needs but this
                # environment lacks: reading goes on without it, and says so
                missing.append(f"{name} ({type(exc).__name__}: {str(exc)[:80]})")
        return md, tuple(missing)

    @property
    def md(self) -> mdlib.Markdown:
        return self._built[0]

    @property
    def missing(self) -> tuple[str, ...]:
        """Extensions of the site that could not be loaded here, with why."""
        return self._built[1]

    def _superfences(self) -> Any | None:
        from pymdownx.superfences import SuperFencesCodeExtension

        return next((e for e in self.md.registeredExtensions
                     if isinstance(e, SuperFencesCodeExtension)), None)

    @cached_property
    def superfences(self) -> bool:
        """Whether the site reads fences with pymdownx.superfences (as the harness does)."""
        return self._superfences() is not None

    @cached_property
    def preserve_tabs(self) -> bool:
        """Superfences' `preserve_tabs`: code keeps its tabs on the page (else expanded)."""
        ext = self._superfences()
        return bool(ext is not None and ext.getConfigs().get("preserve_tabs"))

    @cached_property
    def quotes_logic(self) -> bool:
        """pymdownx.quotes loaded: a fence in a blockquote needs the same level on every line."""
        from pymdownx.quotes import QuotesExtension

        return any(isinstance(e, QuotesExtension) for e in self.md.registeredExtensions)

    @property
    def tab_length(self) -> int:
        return int(self.md.tab_length)

    @cached_property
    def list_re(self) -> re.Pattern[str]:
        """A list item's marker: with pymdownx.fancylists also letters, roman numerals
        and `#.`."""
        procs = self.md.parser.blockprocessors
        fancy = "olist" in procs and "fancylists" in type(procs["olist"]).__module__
        marker = r"(?:\d+|[a-zA-Z]+|#)[.)]" if fancy else r"\d+[.)]"
        return re.compile(rf"^(?:{marker}|[-*+])[ \t]+\S")

    @cached_property
    def list_indent(self) -> int:
        """How far a list item's content is indented: the tab length, or with
        mdx_truly_sane_lists (TechDocs) its `nested_indent` (2 by default)."""
        procs = self.md.parser.blockprocessors
        if "ulist" not in procs:  # a Registry: no .get()
            return self.tab_length
        return int(getattr(procs["ulist"], "tab_length", self.tab_length))

    def accepts(self, opening: str) -> bool:
        """Whether the site renders a fence opened by `opening` (the line without its
        indentation) as a code block. Asked of the site's own fence preprocessor."""
        verdict = self._verdicts.get(opening)
        if verdict is None:
            verdict = self._ask(opening)
            self._verdicts[opening] = verdict
        return verdict

    def _ask(self, opening: str) -> bool:
        m = OPENING_RE.match(opening)
        if m is None:
            return False
        if "fenced_code_block" not in self.md.preprocessors:
            return False
        pre = self.md.preprocessors["fenced_code_block"]
        lines = [opening, "x", m.group("fence")]
        try:
            out = pre.run(lines)
        except Exception:  # noqa: BLE001 - a validator or formatter that fails: no code block
            return False
        finally:
            self.md.reset()
        return out != lines and len(out) < len(lines)


_CACHE: dict[tuple[Any, ...], SiteMarkdown] = {}


def for_site(site: SiteFile) -> SiteMarkdown:
    """One SiteMarkdown per configuration (and file version), reused across pages."""
    stamp = site.path.stat().st_mtime_ns if site.path is not None and site.path.exists() else 0
    key = (site.path, stamp, site.extensions, repr(sorted(site.configs.items(), key=str)))
    if key not in _CACHE:
        _CACHE[key] = SiteMarkdown(site)
    return _CACHE[key]


def default() -> SiteMarkdown:
    from opsbook import sitefile

    return for_site(sitefile.default())
