"""Prove a runbook section against its own fault.

    baseline -> inject (hidden) -> alerts firing in Prometheus and delivered to the
    receiver -> state snapshot -> Diagnosis blocks (their output must show the fault's
    signature; the state must not change) -> Mitigation blocks -> alerts resolved ->
    restore (always, even when a step failed or the run was stopped)

The fault's inject/restore and the probes are shell from facts/faults.yml, run hidden in
the page's own session, so they reach the sandbox exactly as the page's blocks do; the
harness never imports the sandbox. PageRun drives a ScenarioRun step by step, because
under pytest each block is its own item.
"""

from __future__ import annotations

import re
import time

from opsbook.facts.durations import duration_ms
from opsbook.facts.model import Fault, Scenarios
from opsbook.harness.model import ScenarioPlan, ScenarioResult
from opsbook.harness.running.hidden import HiddenFailed, run_hidden, state_diff
from opsbook.harness.running.session import PageSession

POLL = 2.0


class ScenarioFailed(Exception):
    pass


class ScenarioRun:
    def __init__(
        self,
        plan: ScenarioPlan,
        fault: Fault,
        config: Scenarios,
        session: PageSession,
    ) -> None:
        self.plan = plan
        self.fault = fault
        self.config = config
        self.session = session
        self.diagnosed = False  # end_diagnosis ran (or was tried): the mitigation may follow
        self.result = ScenarioResult(plan.page, plan.line, fault.id, alerts=list(fault.alerts))
        self.diagnosis_output: list[str] = []
        self.state_before = ""
        self.mitigation_started: float | None = None
        self.restored = False
        self.began: float | None = None  # monotonic, when start() began
        self.completed = False  # the last phase finished (set by the page's runner)
        self.restore_ok = True  # every restore step succeeded: the baseline is back
        self.fire_timeout = fault.fire_timeout or config.fire_timeout
        self.recover_timeout = fault.recover_timeout or config.recover_timeout

    # -- hidden shell ----------------------------------------------------------------------
    def _shell(self, what: str, script: str) -> str:
        try:
            return run_hidden(self.session, what, script)
        except HiddenFailed as exc:
            raise ScenarioFailed(str(exc)) from None

    def _firing(self) -> dict[str, str]:
        """alertname -> state (pending or firing) for the fault's alerts."""
        states: dict[str, str] = {}
        for line in self._shell("the firing probe", self.config.firing).splitlines():
            name, _, state = line.strip().partition(" ")
            if name in self.fault.alerts:
                states[name] = "firing" if "firing" in (state, states.get(name)) else state
        return states

    def _delivered(self, since: float) -> set[str]:
        names = set()
        for line in self._shell("the receiver probe", self.config.delivered).splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[2] == "firing" and float(parts[0]) >= since:
                names.add(parts[1])
        return names & set(self.fault.alerts)

    # -- phases ----------------------------------------------------------------------------
    def start(self) -> None:
        """From the baseline, inject the fault and wait until every alert it must fire is
        firing and delivered."""
        self.began = time.monotonic()
        self._wait_for_baseline()
        wall = time.time() - 1  # receiver timestamps are wall-clock seconds
        if self.fault.traffic:
            self._shell(
                f"starting {self.fault.traffic} traffic", self.config.traffic[self.fault.traffic]
            )
        self._shell(f"injecting {self.fault.id}", self.fault.inject)
        started = time.monotonic()
        deadline = started + duration_ms(self.fire_timeout) / 1000
        want = set(self.fault.alerts)
        firing: set[str] = set()
        delivered: set[str] = set()
        while want:  # a fault with no alerts (a dependency down) shows at once
            firing = {n for n, s in self._firing().items() if s == "firing"}
            delivered = self._delivered(wall) if firing >= want else set()
            if firing >= want and delivered >= want:
                break
            if time.monotonic() > deadline:
                missing = sorted((want - firing) | (want - delivered))
                self.result.fired = sorted(firing & delivered)
                raise ScenarioFailed(
                    f"fault {self.fault.id} injected, but within {self.fire_timeout} "
                    f"these alerts did not fire and reach the receiver: {', '.join(missing)}"
                )
            time.sleep(POLL)
        self.result.fired = sorted(want)
        self.result.seconds_to_fire = round(time.monotonic() - started, 1) if want else None
        self.state_before = self._shell("the state probe", self.config.state)

    def _wait_for_baseline(self) -> None:
        """None of the fault's alerts may be pending or firing before the injection: one
        left firing by an earlier drill would never be notified again (Alertmanager
        repeats only after its repeat interval), and would prove nothing about this fault."""
        deadline = time.monotonic() + duration_ms(self.recover_timeout) / 1000
        while (left := self._firing()) and time.monotonic() <= deadline:
            time.sleep(POLL)
        if left:
            raise ScenarioFailed(
                "not at its baseline before the injection: still "
                f"{', '.join(f'{n} ({s})' for n, s in left.items())} after "
                f"{self.recover_timeout}"
            )

    def saw_diagnosis(self, output: str) -> None:
        self.diagnosis_output.append(output)

    def end_diagnosis(self) -> None:
        """After the last diagnosis block: it showed the fault and changed nothing."""
        self.diagnosed = True
        shown = "\n".join(self.diagnosis_output)
        self.result.diagnosis_showed = bool(re.search(self.fault.signature, shown))
        after = self._shell("the state probe", self.config.state)
        self.result.diagnosis_unchanged = after == self.state_before
        if not self.result.diagnosis_showed:
            raise ScenarioFailed(
                f"the diagnosis did not show fault {self.fault.id}: nothing in its output "
                f"matches {self.fault.signature!r}"
            )
        if not self.result.diagnosis_unchanged:
            raise ScenarioFailed(
                "the diagnosis changed the sandbox (on-call must be able to paste it "
                f"safely):\n{state_diff(self.state_before, after)}"
            )
        self.mitigation_started = time.monotonic()

    def end_mitigation(self) -> None:
        """After the last mitigation block: every alert of the fault resolves."""
        self.result.mitigated = True
        started = self.mitigation_started or time.monotonic()
        deadline = time.monotonic() + duration_ms(self.recover_timeout) / 1000
        while (left := self._firing()) and time.monotonic() <= deadline:
            time.sleep(POLL)
        if left:
            raise ScenarioFailed(
                f"after the mitigation these alerts still did not resolve within "
                f"{self.recover_timeout}: {', '.join(f'{n} ({s})' for n, s in left.items())}"
            )
        self.result.recovered = True
        self.result.seconds_to_mitigate = round(time.monotonic() - started, 1)

    def restore(self) -> None:
        """Put the sandbox back, whatever happened; idempotent."""
        if self.restored:
            return
        self.restored = True
        steps = [(f"restoring after {self.fault.id}", self.fault.restore)]
        if self.fault.traffic:
            steps.append(("stopping client traffic", self.config.traffic_stop))
        for what, script in steps:  # each runs even when the one before it failed
            try:
                self._shell(what, script)
            except ScenarioFailed as exc:
                self.restore_ok = False
                self.fail(str(exc))
        if self.began is not None:
            self.result.seconds = round(time.monotonic() - self.began, 1)

    def fail(self, message: str) -> None:
        self.result.status = "failed"
        self.result.message = self.result.message or message

    def conclude(self) -> None:
        """Passed only if every phase ran to its end: a run stopped mid-way (Ctrl-C, a
        cancelled job) is not a proof, even though nothing in it failed."""
        if not self.result.message and not self.completed:
            self.fail("not proven: stopped before the scenario finished")
        if not self.result.message:
            self.result.status = "passed"

