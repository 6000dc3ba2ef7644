"""Where a project's parts live. Every command starts from one `Project`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from opsbook.errors import OpsbookError

MARKER = "mkdocs.yml"


def display_path(path: Path | str) -> str:
    """A path as messages show it: relative to the working directory where it can be."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def facts_dir(self) -> Path:
        return self.root / "facts"

    @property
    def docs_dir(self) -> Path:
        return self.root / "docs"

    @property
    def snippets_dir(self) -> Path:
        return self.root / "snippets"

    @property
    def sandbox_dir(self) -> Path:
        return self.root / "sandbox"

    @property
    def state_dir(self) -> Path:
        """Run results and generated files; ignored by git."""
        return self.root / ".opsbook"

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        """The nearest directory at or above `start` (or $OPSBOOK_PROJECT) with mkdocs.yml."""
        env = os.environ.get("OPSBOOK_PROJECT")
        here = Path(env) if env else (start or Path.cwd())
        here = here.resolve()
        for candidate in (here, *here.parents):
            if (candidate / MARKER).is_file() and (candidate / "facts").is_dir():
                return cls(candidate)
        raise OpsbookError(
            f"{here}: not inside an opsbook project (no {MARKER} with a facts/ folder "
            "here or above); cd into the project or pass --project DIR"
        )
