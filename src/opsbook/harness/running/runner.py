"""Run a page's steps in one session and turn attempts into BlockResults.

Pipeline per page: refuse/skip what must not run -> setup -> blocks -> teardown (always).
After a failure the page's remaining main blocks are `blocked` (they depend on the state
the failed block should have produced); teardown still runs.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from opsbook.facts import Facts
from opsbook.facts.model import ProcedurePage
from opsbook.harness.deciding import expect
from opsbook.harness.model import (
    BlockResult,
    CleanupFailure,
    ProcedureResult,
    ScenarioPlan,
    ScenarioResult,
    Status,
    Step,
)
from opsbook.harness.running import containers
from opsbook.harness.running.cleanup import CleanupCheck
from opsbook.harness.running.isolation import Confinement, Forbidden
from opsbook.harness.running.procedure import ProcedureRun
from opsbook.harness.running.scenario import ScenarioFailed, ScenarioRun
from opsbook.harness.running.session import Attempt, PageSession
from opsbook.signals import deferred_signals

BACKOFF_START = 0.5
BACKOFF_MAX = 5.0


def _result(step: Step, status: Status, message: str = "") -> BlockResult:
    b = step.block
    c = step.classification
    return BlockResult(
        page=b.page,
        line=b.line,
        lang=b.lang,
        status=status,
        digest=b.digest,
        role=c.role,
        reason=c.reason.value if status == "skipped" and c.reason else None,
        message=message,
    )


def check(step: Step, att: Attempt) -> BlockResult:
    """Judge one attempt: exit status first, then each command's expected output."""
    cls, cmds = step.classification, step.commands
    res = _result(step, "passed")
    res.duration = att.duration
    res.exit_code = att.exit_code
    res.output = att.output
    res.outputs = att.outputs
    failing = cmds[min(att.last_command, len(cmds) - 1)]
    if att.exit_code is None:
        res.status = "failed"
        res.command = failing.text
        res.message = (
            f"{step.block.page}:{failing.line}: timed out after {cls.timeout:g}s "
            f"and was killed with its process group: {_first(failing.text)}"
        )
        return res
    if att.exit_code < 0:
        res.status = "failed"
        res.command = failing.text
        res.message = (
            f"{step.block.page}:{failing.line}: killed by signal {_signal_name(-att.exit_code)}"
            f" (the block's shell itself was killed): {_first(failing.text)}"
        )
        res.actual = att.outputs[min(att.last_command, len(att.outputs) - 1)]
        return res
    if att.exit_code == 0 == cls.expect_exit and not att.reached_end:
        res.status = "failed"
        res.command = failing.text
        res.message = (
            f"{step.block.page}:{step.block.line}: the block ended before its last line "
            "(an `exit`, an `exec` or something else left the shell early), so the rest "
            "never ran"
        )
        res.actual = att.output
        return res
    if att.exit_code != cls.expect_exit:
        res.status = "failed"
        res.command = failing.text
        lines = failing.text.split("\n")
        if att.err_line and 0 < att.err_line <= len(lines) and cls.expect_exit == 0:
            # bash's ERR trap told us which line failed: point at it, not the block start
            failing = replace(
                failing, line=failing.line + att.err_line - 1, text=lines[att.err_line - 1]
            )
        want = f"expected {cls.expect_exit}"
        res.message = (
            f"{step.block.page}:{failing.line}: exited {att.exit_code} ({want}): "
            f"{_first(failing.text)}"
        )
        res.actual = att.outputs[min(att.last_command, len(att.outputs) - 1)]
        return res
    for cmd, out in zip(cmds, att.outputs, strict=False):
        if cmd.expected is None:
            continue
        if not expect.matches(cmd.expected, out, cls.regex):
            where = f"{step.block.page}:{cmd.expected_line}"
            res.status = "failed"
            res.command = cmd.text
            res.expected = "\n".join(cmd.expected)
            res.actual = out
            res.diff = expect.diff(cmd.expected, out, where)
            res.message = f"{step.block.page}:{cmd.line}: output differs from {where}"
            return res
    return res


def _signal_name(number: int) -> str:
    try:
        return f"{signal.Signals(number).name} ({number})"
    except ValueError:
        return str(number)


def _first(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) < 120 else line[:117] + "..."


def run_step(session: PageSession, step: Step, forbidden: Forbidden) -> BlockResult:
    # Defence in depth: classification refuses these too, but the runner never trusts it.
    if hit := forbidden.find("\n".join(c.text for c in step.commands)):
        return _result(step, "refused", f"{step.id}: refused: names {hit[1]} ({hit[0]})")
    commands = [c.text for c in step.commands]
    deadline = time.monotonic() + step.classification.retry if step.classification.retry else None
    delay = BACKOFF_START
    attempts = 0
    start = time.monotonic()
    while True:
        attempts += 1
        timeout = step.classification.timeout
        if deadline is not None:
            timeout = max(1.0, min(timeout, deadline - time.monotonic()))
        att = session.run(commands, timeout)
        res = check(step, att)
        if res.status == "passed" or deadline is None or time.monotonic() + delay > deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, BACKOFF_MAX)
    res.attempts = attempts
    res.duration = time.monotonic() - start
    if res.status == "passed":
        session.commit(att)
    elif deadline is not None:
        within = step.classification.retry
        res.message += f" (still failing after {attempts} attempts within {within:g}s)"
    return res


class PageRun:
    """Runs one page's steps in order, one at a time, in one shell session.

    A context manager: leaving it (normally, on a failure, or on Ctrl-C) ends the session
    and kills whatever the page's blocks left running, however many of its steps ran.
    """

    def __init__(
        self,
        page: str,
        run_dir: Path,
        env: dict[str, str],
        forbidden: Forbidden,
        confinement: Confinement,
        on_result: Callable[[BlockResult], None] | None = None,
        scenarios: Sequence[ScenarioPlan] = (),
        facts: Facts | None = None,
        on_scenario: Callable[[ScenarioResult], None] | None = None,
        cleanup: CleanupCheck | None = None,
        on_unclean: Callable[[CleanupFailure], None] | None = None,
        procedure: tuple[ProcedurePage, tuple[str, ...]] | None = None,  # spec, its steps
        on_procedure: Callable[[ProcedureResult], None] | None = None,
    ) -> None:
        self.page = page
        self.session = PageSession(page, run_dir, env, confinement)
        self.cleanup = cleanup
        self.on_unclean = on_unclean
        self.procedure = (
            ProcedureRun(procedure[0], facts.procedures, self.session, procedure[1])
            if procedure is not None and facts is not None
            else None
        )
        self.on_procedure = on_procedure
        self.unclean: CleanupFailure | None = None  # what the cleanup check found at close
        self.forbidden = forbidden
        self.on_result = on_result
        self.on_scenario = on_scenario
        self.failed_at: str | None = None
        self.containers = containers.snapshot(env)  # those a page starts are removed at close
        self.closed = False
        self.facts = facts
        self.scenario_of = {step_id: plan for plan in scenarios for step_id in plan.steps}
        self.active: ScenarioRun | None = None
        self.finished: dict[str, ScenarioResult] = {}  # ScenarioPlan.id -> its result
        self.clean_before_scenario = True  # no failure on the page when the active one began
        self.started = False

    def run(self, step: Step) -> BlockResult:
        if not self.started:
            self.started = True
            if self.cleanup is not None:
                self.cleanup.before_page(self.session)
        proc = self.procedure
        if proc is not None and step.id == proc.steps[0] and proc.result is None:
            refused = self._start_procedure(step)
            if refused is not None:
                if self.on_result is not None:
                    self.on_result(refused)
                return refused
        plan = self.scenario_of.get(step.id)
        # a step that does not run here (the Kubernetes tab beside a Compose block) does
        # not end the scenario around it
        runs = step.classification.kind == "run"
        if self.active is not None and self.active.plan is not plan and runs:
            self._finish_scenario()
        res = self._run(step) if plan is None else self._run_in_scenario(step, plan)
        if proc is not None and step.id == proc.steps[-1] and proc.result is None:
            self._finish_procedure(res)
        if self.on_result is not None:
            self.on_result(res)
        if plan is not None and step.id == plan.steps[-1]:
            self._finish_scenario()
        return res

    # -- scenarios -------------------------------------------------------------------------
    def _run_in_scenario(self, step: Step, plan: ScenarioPlan) -> BlockResult:
        if self.active is None:
            assert self.facts is not None, "a scenario needs the facts (faults.yml)"
            fault = self.facts.fault(plan.fault)
            assert fault is not None, f"planning checks fault {plan.fault} exists"
            self.active = ScenarioRun(plan, fault, self.facts.scenarios, self.session)
            self.clean_before_scenario = self.failed_at is None
            if self.failed_at is not None:
                self.active.fail(f"not run: {self.failed_at} failed before it")
            else:
                try:
                    self.active.start()
                except ScenarioFailed as exc:
                    return self._scenario_failed(step, str(exc))
        scenario = self.active
        if scenario.result.message:  # failed already: run nothing more of it
            return self._run(step)
        if step.classification.phase == "mitigation" and not scenario.diagnosed:
            try:
                scenario.end_diagnosis()
            except ScenarioFailed as exc:
                return self._scenario_failed(step, str(exc))
        res = self._run(step)
        if res.status != "passed":
            scenario.fail(res.message)
        elif step.classification.phase == "diagnosis":
            scenario.saw_diagnosis(res.output)
        if step.id == plan.steps[-1] and res.status == "passed":
            try:
                if not scenario.diagnosed:  # a runbook with no mitigation blocks
                    scenario.end_diagnosis()
                else:
                    scenario.end_mitigation()
                scenario.completed = True
            except ScenarioFailed as exc:
                scenario.fail(str(exc))
                res.status = "failed"
                res.message = f"{step.id}: scenario {plan.fault}: {exc}"
                self.failed_at = self.failed_at or step.id
        return res

    def _scenario_failed(self, step: Step, message: str) -> BlockResult:
        assert self.active is not None
        fault = self.active.plan.fault
        self.active.fail(message)
        self.failed_at = self.failed_at or step.id
        return _result(step, "failed", f"{step.id}: scenario {fault}: {message}")

    def _start_procedure(self, step: Step) -> BlockResult | None:
        """Start the traffic before the procedure's first step; its failed result if the
        traffic would not start."""
        assert self.procedure is not None
        why = self.procedure.start()
        if why is None:
            return None
        self.failed_at = self.failed_at or step.id
        return _result(step, "failed", f"{step.id}: procedure under traffic: {why}")

    def _finish_procedure(self, last: BlockResult | None) -> None:
        """Stop the traffic and count; the procedure's last block fails if it lost jobs or
        went over its budget. `last` is None when the page is being closed early."""
        assert self.procedure is not None
        if not self.procedure.started:  # its first step was not run (pytest -k): no proof
            return
        if last is None:
            why = "not proven: stopped before the procedure finished"
        elif self.failed_at is not None:
            why = f"not proven: {self.failed_at} failed"
        else:
            why = None
        res = self.procedure.finish(why)
        if self.on_procedure is not None:
            self.on_procedure(res)
        if last is not None and res.status != "passed" and why is None:
            last.status = "failed"
            last.message = f"{last.id}: under traffic: {res.message}"
            self.failed_at = self.failed_at or last.id

    def _finish_scenario(self) -> None:
        """Restore the sandbox and report the scenario; runs whatever happened before."""
        scenario, self.active = self.active, None
        if scenario is None:
            return
        scenario.restore()
        if self.failed_at is not None and not scenario.result.message:
            scenario.fail(f"not proven: {self.failed_at} failed")
        scenario.conclude()
        # Scenarios are independent: one that failed inside itself and was restored leaves
        # the baseline behind, so the page's next runbook still runs (and is judged alone).
        if self.clean_before_scenario and scenario.restore_ok and self.failed_at is not None:
            self.failed_at = None
        self.finished[scenario.plan.id] = scenario.result
        if self.on_scenario is not None:
            self.on_scenario(scenario.result)

    def _run(self, step: Step) -> BlockResult:
        c = step.classification
        if c.kind == "skip":
            return _result(step, "skipped")
        if c.kind == "refused":
            return _result(step, "refused", f"{step.id}: refused: {c.why}")
        if self.failed_at is not None and c.role != "teardown":
            return _result(step, "blocked", f"{step.id}: not run: {self.failed_at} failed")
        res = run_step(self.session, step, self.forbidden)
        if res.status != "passed" and self.failed_at is None:
            self.failed_at = step.id
        return res

    def close(self, check: bool = True) -> None:
        """End the page: the cleanup check (unless `check` is false: an interrupted run),
        its processes killed, its stray containers removed. Signals wait."""
        if self.closed:
            return
        self.closed = True
        with deferred_signals():
            self._finish_scenario()  # a page stopped mid-scenario still restores
            if self.procedure is not None and self.procedure.started:
                self._finish_procedure(None)  # stop the traffic it left running
            checked = check and self.cleanup is not None and self.started
            if checked and (message := self.cleanup.after_page(self.session)):
                self.unclean = CleanupFailure(self.page, message)
                if self.on_unclean is not None:
                    self.on_unclean(self.unclean)
            self.session.close()
            containers.remove_new(self.session.env, self.containers)

    def __enter__(self) -> PageRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
