"""The one exception type the CLI turns into clean `file:line: message` output."""

from __future__ import annotations


class OpsbookError(Exception):
    """A user-facing error. `problems` are complete one-line messages, all reported."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))
