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


ENV_VAR = "OPSBOOK_PROJECT"


def find_project(explicit: Path | str | None = None, *, start: Path | None = None) -> Project:
    """The project every entry point works on, found the same way by all of them.

    In order: `explicit` (`--project DIR`, the plugin's config file's folder), then
    $OPSBOOK_PROJECT, then `start` (default: the current directory). From the chosen
    folder, the nearest directory at or above it with mkdocs.yml and facts/ is the project.
    """
    if explicit is not None and str(explicit) != "":
        here, how = Path(explicit), "--project"
    elif os.environ.get(ENV_VAR):
        here, how = Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    else:
        here, how = (start or Path.cwd()), "the current directory"
    here = here.resolve()
    for candidate in (here, *here.parents):
        if (candidate / MARKER).is_file() and (candidate / "facts").is_dir():
            return Project(candidate)
    raise OpsbookError(
        f"{here} (from {how}): not inside an opsbook project (no {MARKER} with a facts/ "
        "folder here or above); cd into the project or pass --project DIR"
    )
