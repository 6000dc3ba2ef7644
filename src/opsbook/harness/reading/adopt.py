"""Which pages the harness has taken on: a large docs set is adopted page by page.

The opsbook plugin's `adopt` option in mkdocs.yml lists pages (`deploy.md`), folders
(`runbooks/`) or patterns (`ops/*.md`), relative to docs_dir. Without it every page is
adopted. A page not adopted is still read and listed with its blocks and problems, but
nothing on it runs, its problems do not fail a run, and the site never marks it verified.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from opsbook.errors import OpsbookError

NOT_ADOPTED = "not adopted: this page is not in the opsbook plugin's `adopt` list (mkdocs.yml)"


@dataclass(frozen=True)
class Adoption:
    entries: tuple[str, ...] | None = None  # None: every page

    @classmethod
    def from_option(cls, value: Any, where: str = "mkdocs.yml") -> Adoption:
        if value is None:
            return cls(None)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in value):
            raise OpsbookError(f"{where}: plugins: opsbook: adopt must be a list of pages or "
                               "folders under docs_dir, such as [runbooks/, deploy.md]")
        return cls(tuple(v.strip().removeprefix("./") for v in value))

    @property
    def everything(self) -> bool:
        return self.entries is None

    def _match(self, entry: str, page: str) -> bool:
        if entry in ("", "/", "*", "."):
            return True
        if any(c in entry for c in "*?["):
            return fnmatchcase(page, entry)
        if entry.endswith("/") or not entry.endswith(".md"):
            return page.startswith(entry.rstrip("/") + "/")
        return page == entry

    def adopts(self, page: str) -> bool:
        """`page`: a path relative to docs_dir, with `/`."""
        return self.entries is None or any(self._match(e, page) for e in self.entries)

    def unmatched(self, pages: Iterable[str]) -> list[str]:
        """Entries that name no page: a typo would silently adopt nothing."""
        pages = list(pages)
        return [e for e in self.entries or () if not any(self._match(e, p) for p in pages)]
