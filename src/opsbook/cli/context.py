"""What every `opsbook` command gets from the command line: a typed context object.

The root group stores an `AppContext` in click's context; commands take it with
`@pass_app` and ask it for the project and its facts, which are found and loaded once,
the same way the pytest and MkDocs plugins find them (`opsbook.project.find_project`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from opsbook.project import Project, find_project

if TYPE_CHECKING:  # loading facts pulls in pydantic: only for commands that need them
    from opsbook.facts import Facts


@dataclass
class AppContext:
    project_option: Path | None = None  # --project DIR, if given
    _project: Project | None = field(default=None, repr=False)
    _facts: Facts | None = field(default=None, repr=False)

    @property
    def project(self) -> Project:
        if self._project is None:
            self._project = find_project(self.project_option)
        return self._project

    @property
    def facts(self) -> Facts:
        if self._facts is None:
            from opsbook.facts import load_facts

            self._facts = load_facts(self.project.facts_dir)
        return self._facts

    def project_if_any(self) -> Project | None:
        """The project, or None when there is none (commands that also take plain files)."""
        from opsbook.errors import OpsbookError

        try:
            return self.project
        except OpsbookError:
            return None


pass_app = click.make_pass_decorator(AppContext, ensure=True)
