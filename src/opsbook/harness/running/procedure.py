"""Prove a page's procedure under live traffic: nothing lost, nothing refused.

    first main step -> traffic start (hidden) -> the page's blocks run -> last main
    step -> traffic stop: wait for every accepted job, count -> within the budget?

The traffic driver and its counting are shell from facts/procedures.yml (the sandbox's
tools/traffic.py), run hidden in the page's own session like the scenario probes, so
the harness knows nothing of the API it loads. A procedure passes only when it ran to
its end: a page that failed earlier, or a run stopped mid-way, proves nothing.
"""

from __future__ import annotations

import json

from opsbook.facts.model import ProcedurePage, Procedures
from opsbook.harness.model import ProcedureResult
from opsbook.harness.running.hidden import HiddenFailed, run_hidden
from opsbook.harness.running.session import PageSession

DRIVER_TIMEOUT = 300.0  # stop waits up to its --settle for the jobs, then counts


class ProcedureRun:
    def __init__(
        self, spec: ProcedurePage, config: Procedures, session: PageSession, steps: tuple[str, ...]
    ) -> None:
        self.spec = spec
        self.config = config
        self.session = session
        self.steps = steps  # the main steps it spans, in run order
        self.started = False
        self.result: ProcedureResult | None = None

    def start(self) -> str | None:
        """Start the traffic; an error message if it would not start."""
        try:
            run_hidden(self.session, "starting the traffic", self.config.start, DRIVER_TIMEOUT)
        except HiddenFailed as exc:
            return str(exc)
        self.started = True
        return None

    def finish(self, not_proven: str | None = None) -> ProcedureResult:
        """Stop the traffic and count. `not_proven`: why the figures prove nothing (a step
        failed, the run was stopped); they are still recorded."""
        res = ProcedureResult(self.spec.page, note=self.spec.note)
        self.result = res
        if not self.started:
            res.message = not_proven or "traffic never started"
            return res
        self.started = False
        try:
            out = run_hidden(self.session, "the traffic count", self.config.stop, DRIVER_TIMEOUT)
            counts = json.loads(out.strip().splitlines()[-1])
        except HiddenFailed as exc:
            res.message = str(exc)
            return res
        except (IndexError, ValueError):
            res.message = f"the traffic count printed no counts: {out.strip()[-200:]}"
            return res
        for key in ("rate", "seconds", "accepted", "completed", "failed", "lost", "refused",
                    "errors", "lost_ids", "samples"):
            if key in counts:
                setattr(res, key, counts[key])
        over = self._over_budget(res)
        res.message = not_proven or over
        res.status = "failed" if res.message else "passed"
        return res

    def _over_budget(self, res: ProcedureResult) -> str:
        budget = self.spec.budget
        over = []
        if res.lost > budget.lost:
            ids = ", ".join(res.lost_ids[:5])
            over.append(f"{res.lost} job(s) lost (budget {budget.lost}): {ids}")
        if budget.refused is not None and res.refused > budget.refused:
            over.append(f"{res.refused} request(s) refused (budget {budget.refused})")
        if budget.errors is not None and res.errors > budget.errors:
            over.append(f"{res.errors} request(s) answered 5xx (budget {budget.errors})")
        if res.accepted == 0:
            over.append("no job was accepted: the traffic never reached the API")
        if over and res.samples:  # the driver lists only refused and 5xx requests
            over.append("first seen: " + " | ".join(res.samples[:3]))
        return "; ".join(over)
