"""The one verification driver: plan pages, run them, write results, report.

    plan = plan_pages(project, pages=...)              reading/ + deciding/
    results = verify(plan, project=project, sandbox=..., progress=...)

`verify` is what the CLI (`opsbook test`), the integration tests and the benchmarks call.
The pytest plugin cannot hand a whole run to one call, because pytest's collector tree
owns each page's lifetime (`-k` may select any part of a page); it uses the same two
pieces `verify` is made of:

    with Verification(plan, ...) as run:          temp dir, scrubbed env, results file
        with run.page(page) as page_run:          one shell session; leftovers killed on exit
            page_run.run(step)                    result recorded, results file rewritten

The harness core never imports the sandbox: a `Target` is anything that can give the
environment blocks need to reach it, and bring it up and down. `opsbook.sandbox` provides
the Docker Compose one; `default_target` imports it only when asked.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Protocol

from opsbook.engine import Engine, current_engine, runner_reachable_tmp
from opsbook.facts import Facts
from opsbook.facts.model import ProcedurePage
from opsbook.harness.model import (
    Backend,
    BlockResult,
    CleanupFailure,
    PagePlan,
    PageRecord,
    ProcedureResult,
    RunResults,
    ScenarioResult,
)
from opsbook.harness.reading.plan import Plan
from opsbook.harness.reporting import keys as result_keys
from opsbook.harness.reporting import results as results_file
from opsbook.harness.reporting import store
from opsbook.harness.running.cleanup import CleanupCheck
from opsbook.harness.running.isolation import Confinement, scrubbed_env
from opsbook.harness.running.runner import PageRun
from opsbook.project import Project
from opsbook.signals import deferred_signals, terminate_as_interrupt

Progress = Callable[[BlockResult], None]
PageStart = Callable[[PagePlan], None]


class Target(Protocol):
    """What blocks run against (the sandbox)."""

    def environment(self) -> dict[str, str]:
        """Variables blocks need to reach it (compose project, ports, versions)."""
        ...

    def up(self) -> None: ...

    def down(self) -> None: ...


def default_target(
    project: Project, facts: Facts, say: Callable[[str], None] = print, build: bool = True
) -> Target:
    from opsbook.sandbox import ComposeSandbox  # only when a run needs it

    return ComposeSandbox(project, facts, progress=say, build=build)


class Verification:
    """One run: its temp dir, the environment every block gets, and the results file.

    Results are written as each block finishes, so a run that is stopped keeps every
    finished block; leaving the context marks the file `complete`, or `interrupted` when
    an exception (Ctrl-C included) ends the run.
    """

    def __init__(
        self,
        plan: Plan,
        *,
        environment: Mapping[str, str] | None = None,
        state_dir: Path | None = None,  # where results.json goes; None: not written
        results_path: Path | None = None,  # instead of state_dir/results.json
        store: bool = True,  # keep each finished page's results (reporting/store.py)
        commit_root: Path | None = None,  # the git checkout the results name
        progress: Progress | None = None,
        on_scenario: Callable[[ScenarioResult], None] | None = None,
        check_cleanup: bool = False,  # after each page, compare with the baseline (facts)
    ) -> None:
        self.plan = plan
        self.on_scenario = on_scenario
        self.extra = dict(environment or {})
        self.state_dir = state_dir
        self.results_path = results_path or (
            state_dir / results_file.FILE if state_dir is not None else None
        )
        self.store = store and state_dir is not None
        self.progress = progress
        self.results = results_file.new_run(commit_root or Path.cwd())
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.env: dict[str, str] = {}
        self.open_pages: list[PageRun] = []
        self.confinement: Confinement | None = None
        facts = plan.facts
        self.cleanup = CleanupCheck(facts.scenarios) if check_cleanup and facts else None

    @property
    def run_dir(self) -> Path:
        assert self._tmp is not None, "use Verification as a context manager"
        return Path(self._tmp.name)

    def start(self) -> None:
        engine = current_engine()
        parent = _run_parent(engine)
        _sweep_abandoned(parent)
        self._tmp = tempfile.TemporaryDirectory(prefix=RUN_PREFIX, dir=parent)
        (self.run_dir / OWNER_FILE).write_text(str(os.getpid()))
        self.results.isolation = engine.label
        self.env = scrubbed_env(self.run_dir, self.extra, docker_host=engine.docker_host)
        self.confinement = Confinement.for_run(engine, self.plan.forbidden, self.run_dir)
        if engine.isolation == "rootless":
            self.run_dir.chmod(0o711)  # the runner may pass through, not list or write
            self.confinement.hand_over(Path(self.env["HOME"]), Path(self.env["TMPDIR"]))
        self._write()

    def finish(self, interrupted: bool) -> None:
        """Close pages still open (an interrupted run), write the final state, remove the
        run's temp dir. Ctrl-C and SIGTERM wait until this is done."""
        with deferred_signals(redeliver=not interrupted):
            for page_run in self.open_pages:
                page_run.close(check=not interrupted)
            self.open_pages.clear()
            self.results.state = "interrupted" if interrupted else "complete"
            try:
                self._write()
                if self.store and self.state_dir is not None:
                    store.save(self.results, self.state_dir)
            finally:
                if self._tmp is not None:
                    self._tmp.cleanup()
                    self._tmp = None

    def __enter__(self) -> Verification:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(interrupted=exc_type is not None)

    def page(self, page: PagePlan) -> PageRun:
        """A page's shell session; every result it produces is recorded here."""
        assert self.confinement is not None, "start() the verification first"
        page_run = PageRun(
            page.page,
            self.run_dir,
            self.env,
            self.plan.forbidden,
            self.confinement,
            on_result=self.record,
            scenarios=page.scenarios,
            facts=self.plan.facts,
            on_scenario=self.record_scenario,
            cleanup=self.cleanup,
            on_unclean=self.record_cleanup,
            procedure=self._procedure(page),
            on_procedure=self.record_procedure,
        )
        self.open_pages = [p for p in self.open_pages if not p.closed] + [page_run]
        return page_run

    def _procedure(self, page: PagePlan) -> tuple[ProcedurePage, tuple[str, ...]] | None:
        """The page's procedure under traffic and the steps it spans (its main steps that
        run), if the facts name one. Only against the sandbox this run checks: the traffic
        needs its API."""
        facts = self.plan.facts
        if facts is None or self.cleanup is None:
            return None
        spec = facts.procedures.for_page(page.page)
        steps = tuple(
            s.id for s in page.steps
            if s.classification.role == "main" and s.classification.kind == "run"
        )
        return (spec, steps) if spec is not None and steps else None

    def page_done(self, page: str, key: str, seconds: float) -> None:
        """A page ran to its end in `seconds`: its record (under its result `key`, dated by
        this run) makes its results reusable (store.py) and gives --shard its duration."""
        self.results.pages.append(PageRecord(
            page=page,
            key=key,
            time=self.results.time,
            commit=self.results.commit,
            seconds=round(seconds, 2),
            isolation=self.results.isolation,
        ))
        self._write()

    def reuse(self, page: str, earlier: RunResults) -> None:
        """Carry an earlier run's results of `page` into this run, dated as they were."""
        self.results.absorb(earlier.carried(page))
        self._write()

    def record(self, res: BlockResult) -> None:
        self.results.blocks.append(res)
        self._write()
        if self.progress is not None:
            self.progress(res)

    def record_scenario(self, res: ScenarioResult) -> None:
        self.results.scenarios.append(res)
        self._write()
        if self.on_scenario is not None:
            self.on_scenario(res)

    def record_procedure(self, res: ProcedureResult) -> None:
        self.results.procedures.append(res)
        self._write()

    def record_cleanup(self, res: CleanupFailure) -> None:
        self.results.cleanup.append(res)
        self._write()

    def _write(self) -> None:
        if self.results_path is not None:
            self.results_path.parent.mkdir(parents=True, exist_ok=True)
            results_file.write_file(self.results, self.results_path)


RUN_PREFIX = "opsbook-run-"
OWNER_FILE = "owner.pid"


def _sweep_abandoned(parent: Path) -> None:
    """Remove run dirs whose harness is gone without cleaning up (SIGKILL leaves no chance
    to): each names its harness's pid; a dir whose pid is not alive is abandoned."""
    for run_dir in parent.glob(f"{RUN_PREFIX}*"):
        try:
            pid = int((run_dir / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or just being created
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(run_dir, ignore_errors=True)


def _run_parent(engine: Engine) -> Path:
    """Where a run's temp dir goes: the usual temp dir, or one the runner can reach."""
    if engine.isolation == "rootless":
        return runner_reachable_tmp()
    return Path(tempfile.gettempdir())


@contextmanager
def target_lifetime(target: Target | None, manage: bool) -> Iterator[dict[str, str]]:
    """The target's environment; with `manage`, brought up first and down at the end,
    even when the run fails or is interrupted."""
    if target is None:
        yield {}
        return
    if manage:
        try:
            target.up()
            yield target.environment()
        finally:
            target.down()
    else:
        yield target.environment()


def _cleanup_default(target: Target | None, project: Project | None) -> bool:
    """Check each page against the sandbox's baseline when there is a sandbox: a target,
    and a project with a sandbox/ folder (without one, no compose file to probe)."""
    if target is None:
        return False
    return project is None or project.sandbox_dir.is_dir()


def verify(
    plan: Plan,
    *,
    project: Project | None = None,
    target: Target | None = None,
    manage_target: bool = False,
    write_results: bool = True,
    progress: Progress | None = None,
    on_page: PageStart | None = None,
    on_scenario: Callable[[ScenarioResult], None] | None = None,
    check_cleanup: bool | None = None,
    keys: Mapping[str, str] | None = None,
    reuse: Mapping[str, RunResults] | None = None,
    results_path: Path | None = None,
    backend: Backend = "compose",
) -> RunResults:
    """Run every step of every page in `plan`; return (and write) the results.

    `target` defaults to the project's sandbox when the plan read the project's facts;
    `manage_target` brings it up before and down after. Results go to the project's
    `.opsbook/results.json` unless `write_results` is false (or there is no project).
    `check_cleanup` (default: when there is a target and a sandbox/ folder) compares the
    sandbox with its baseline after every page (running/cleanup.py).

    `keys`: each page's result key (reporting/keys.py; computed when not given).
    `reuse`: pages not to run, with the earlier results that still hold for them
    (`opsbook test --changed`); they are carried into this run's results, dated as they
    were. With nothing left to run, no target is brought up.
    `results_path`: write the results there instead, and keep them out of the page store
    (a shard's or a worker's part of a larger run; `opsbook results merge` joins them).
    """
    reuse = reuse or {}
    if keys is None:
        keys = result_keys.plan_keys(
            plan.pages, plan.facts, project.sandbox_dir if project is not None else None
        )
    runs_something = any(p.steps and p.page not in reuse for p in plan.pages)
    if not runs_something:
        target, manage_target = None, False
    elif target is None and project is not None and plan.facts is not None:
        target = default_target(project, plan.facts)
    state_dir = project.state_dir if project is not None and write_results else None
    with (
        terminate_as_interrupt(),
        target_lifetime(target, manage_target) as environment,
        Verification(
            plan,
            environment=environment,
            state_dir=state_dir,
            results_path=results_path,
            store=results_path is None,
            commit_root=project.root if project is not None else None,
            progress=progress,
            on_scenario=on_scenario,
            check_cleanup=_cleanup_default(target, project)
            if check_cleanup is None else check_cleanup,
        ) as run,
    ):
        run.results.backend = backend
        for page in plan.pages:
            if page.page in reuse:
                run.reuse(page.page, reuse[page.page])
                continue
            if not page.steps:
                continue
            if on_page is not None:
                on_page(page)
            started = time.monotonic()
            with run.page(page) as page_run:
                for step in page.steps:
                    page_run.run(step)
            run.page_done(page.page, keys[page.page], time.monotonic() - started)
    return run.results
