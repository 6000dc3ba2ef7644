"""The Docker Compose sandbox as a verification target (`opsbook.harness.verify.Target`)."""

from __future__ import annotations

from dataclasses import dataclass

from opsbook.facts import Facts
from opsbook.project import Project
from opsbook.sandbox.env import compose_environment
from opsbook.sandbox.lifecycle import Progress, down, status, up


@dataclass
class ComposeSandbox:
    project: Project
    facts: Facts
    progress: Progress = print
    build: bool = True  # `up` builds stale images first

    def environment(self) -> dict[str, str]:
        return compose_environment(self.project, self.facts)

    def healthy(self) -> bool:
        return all(s.ok for s in status(self.project, self.facts))

    def up(self) -> None:
        up(self.project, self.facts, build=self.build, progress=self.progress)

    def down(self) -> None:
        down(self.project, self.facts)
