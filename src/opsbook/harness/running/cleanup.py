"""The cleanup check: after every page the sandbox is back at its baseline.

    first page opens -> baseline probe = the reference
    each page closes -> probe again; differs? wait a little (a restarted service turns
    healthy again), then report what differs and run `reset`, so the next page starts
    from the baseline whatever this one left behind

What "baseline" means is shell in the facts (`scenarios.baseline`): services with their
state and health, every container, volume and network on the engine, the fault switches.
It runs hidden in the page's own session, like the scenario probes, so it sees the
sandbox exactly as the page's blocks do.

Without this check a page passes only because the pages before it left the sandbox a
certain way; with it, pages can run in any order, or alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from opsbook.facts.durations import duration_ms
from opsbook.facts.model import Scenarios
from opsbook.harness.running.hidden import HiddenFailed, run_hidden, state_diff
from opsbook.harness.running.session import PageSession

POLL = 2.0


@dataclass
class CleanupCheck:
    """Shared by the pages of one run: holds the reference taken before the first page."""

    config: Scenarios
    reference: str | None = None
    broken: str | None = None  # why no reference could be taken

    def _probe(self, session: PageSession, what: str, script: str) -> str:
        return run_hidden(session, f"the {what}", script)

    def before_page(self, session: PageSession) -> None:
        if self.reference is None and self.broken is None:
            try:
                self.reference = self._probe(session, "baseline probe", self.config.baseline)
            except HiddenFailed as exc:
                self.broken = f"cleanup check: {exc}"  # every page reports it: none is checked

    def after_page(self, session: PageSession) -> str | None:
        """None when the sandbox is at its baseline; otherwise what differs (and the
        sandbox has been reset)."""
        if self.reference is None:
            return self.broken
        try:
            now = self._settled(session)
            if now == self.reference:
                return None
            problem = "left the sandbox unlike its baseline:\n" + self._diff(now)
            self._probe(session, "reset", self.config.reset)
            if (after := self._settled(session)) != self.reference:
                problem += "\nand reset did not bring it back:\n" + self._diff(after)
            return problem
        except HiddenFailed as exc:
            return f"cleanup check: {exc}"

    def _diff(self, now: str) -> str:
        assert self.reference is not None
        return state_diff(self.reference, now, "baseline", "after the page")

    def _settled(self, session: PageSession) -> str:
        deadline = time.monotonic() + duration_ms(self.config.settle) / 1000
        while True:
            now = self._probe(session, "baseline probe", self.config.baseline)
            if now == self.reference or time.monotonic() > deadline:
                return now
            time.sleep(POLL)

