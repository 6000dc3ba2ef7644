"""pytest plugin: `pytest --opsbook` collects every shell block on the site as an item.

    mkdocs.yml (SiteFile)
      deployment.md (PageCollector)    setup: open the page's shell session
        deployment.md:74 (BlockItem)   teardown: close it, check the sandbox is back at
        ...                            its baseline, kill what its blocks left running
      troubleshooting.md (PageCollector)
        troubleshooting.md#high-error-rate (ScenarioItem)   a section proven against its
        ...                                                 fault: its blocks, one item

Item ids are `page.md:LINE` (the rendered page's line, as `opsbook blocks list` shows).
pytest's collector tree owns each page's lifetime, as it does for doctest modules: the
page's session opens before its first selected item and closes after its last, however
`-k` or `--deselect` cut the page. A failure reports the command, the page line and a
diff of expected vs actual output. Results go to .opsbook/results.json as each block
finishes, for the site's badges; JUnit XML comes from pytest itself (`--junitxml`).

Under pytest-xdist (`-n N --dist loadscope`), worker gwK works on sandbox instance K (its
own compose project and ports: facts/instances.py), each page stays on one worker (the
page collector is the scope), each worker writes .opsbook/results-gwK.json, and the
controller merges them into results.json at the end.

The sandbox has one owner in a test session, `SandboxOwner` here: `--opsbook-sandbox`
makes the doc items need it, and integration tests ask for it with the `opsbook_sandbox`
fixture. The first that needs it brings it up (unless it is already healthy); it is taken
down once, at the end of the session (kept with OPSBOOK_KEEP_SANDBOX=1).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from opsbook.harness.model import BlockResult, PagePlan, ScenarioPlan, ScenarioResult, Step
from opsbook.signals import terminate_as_interrupt

if TYPE_CHECKING:  # the harness and the sandbox are imported only when asked for
    from opsbook.facts import Facts
    from opsbook.harness.reading.plan import Plan
    from opsbook.harness.running.runner import PageRun
    from opsbook.harness.verify import Verification
    from opsbook.project import Project
    from opsbook.sandbox import ComposeSandbox


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("opsbook")
    group.addoption("--opsbook", action="store_true", help="run the site's shell blocks")
    group.addoption("--opsbook-page", action="append", default=[], help="only this page")
    group.addoption(
        "--opsbook-sandbox",
        action="store_true",
        help="bring the sandbox up for the blocks (if not healthy) and down at the end",
    )
    group.addoption(
        "--opsbook-project",
        default=None,
        help="project directory (default: $OPSBOOK_PROJECT, else pytest's rootdir)",
    )


class SandboxOwner:
    """The one owner of the sandbox's lifetime in a pytest session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.acquired = False
        self._target: ComposeSandbox | None = None

    def project(self) -> Project:
        from opsbook.project import find_project

        return find_project(self.config.getoption("opsbook_project"), start=self.config.rootpath)

    def acquire(self) -> ComposeSandbox:
        """The running sandbox, brought up first if any service is not healthy."""
        if self._target is None:
            from opsbook.facts import load_facts
            from opsbook.sandbox import ComposeSandbox
            from opsbook.sandbox.docker import require_docker

            project = self.project()
            require_docker()
            target = ComposeSandbox(project, load_facts(project.facts_dir),
                                    progress=lambda line: print(f"sandbox: {line}"))
            self.acquired = True  # from here on, down at the end whatever happens
            self._target = target
            if not target.healthy():
                target.up()
        return self._target

    def release(self) -> None:
        if self.acquired and self._target is not None:
            if os.environ.get("OPSBOOK_KEEP_SANDBOX") != "1":
                self._target.down()
            self.acquired = False


class OpsbookSession:
    """What the doc items of one test session share: the plan and the verification run."""

    def __init__(self, config: pytest.Config, owner: SandboxOwner) -> None:
        from opsbook.harness.reading.plan import plan_pages

        self.config = config
        self.owner = owner
        self.project = owner.project()
        self.plan: Plan = plan_pages(self.project, None, config.getoption("opsbook_page") or None)
        self.facts: Facts | None = self.plan.facts
        self._run: Verification | None = None
        self._keys: dict[str, str] | None = None

    def verification(self) -> Verification:
        """Opened on the first doc item that runs (after the sandbox is up), closed at the end."""
        if self._run is None:
            from opsbook.harness.verify import Verification, default_target

            if self.config.getoption("opsbook_sandbox"):
                environment = self.owner.acquire().environment()
            else:
                assert self.facts is not None
                environment = default_target(self.project, self.facts).environment()
            worker = _xdist_worker(self.config)
            self._run = Verification(
                self.plan,
                environment=environment,
                state_dir=self.project.state_dir,
                # a worker's part of the run: the controller merges the parts
                results_path=self.project.state_dir / f"results-{worker}.json" if worker
                else None,
                store=worker is None,
                commit_root=self.project.root,
                # the sandbox this session owns must be back at its baseline after each
                # page (and its procedures run under traffic); without --opsbook-sandbox
                # the blocks may not touch any sandbox at all
                check_cleanup=self.config.getoption("opsbook_sandbox"),
            )
            self._run.start()
        return self._run

    def page_done(self, page: PagePlan, seconds: float) -> None:
        """Every item of `page` ran: its record makes its result reusable by
        `opsbook test --changed` and gives `--shard` its duration, as a CLI run's does."""
        from opsbook.harness.reporting.keys import plan_keys

        if self._keys is None:
            self._keys = plan_keys(self.plan.pages, self.plan.facts, self.project.sandbox_dir)
        self.verification().page_done(page.page, self._keys[page.page], seconds)

    def finish(self, interrupted: bool) -> None:
        if self._run is not None:
            self._run.finish(interrupted)
            self._run = None


OWNER_KEY = pytest.StashKey[SandboxOwner]()
SESSION_KEY = pytest.StashKey[OpsbookSession]()
SIGNALS_KEY = pytest.StashKey[ExitStack]()


class BlockFailure(Exception):
    def __init__(self, res: BlockResult) -> None:
        super().__init__(res.message)
        self.res = res


class SiteFile(pytest.File):
    """mkdocs.yml: the site, whose pages are the collectors below."""

    def collect(self) -> Iterator[PageCollector]:
        session = self.config.stash[SESSION_KEY]
        if session.plan.problems:
            raise pytest.UsageError("\n".join(str(p) for p in session.plan.problems))
        for page in session.plan.pages:
            if page.steps:
                yield PageCollector.from_parent(self, name=page.page, plan=page)


class PageCollector(pytest.Collector):
    """One page: its shell session lives from this collector's setup to its teardown."""

    def __init__(self, *, plan: PagePlan, **kw: Any) -> None:
        super().__init__(**kw)
        self.plan = plan
        self.run: PageRun | None = None
        self.items: set[str] = set()  # every item of the page, selected or not
        self.ran: set[str] = set()  # the items that started running
        self.started = 0.0  # time.monotonic() at setup

    def collect(self) -> Iterator[BlockItem | ScenarioItem]:
        """A block per item, except a scenario's blocks: one item runs them all, because
        they prove one thing together (fault -> alert -> diagnosis -> mitigation)."""
        scenario_of = {sid: sc for sc in self.plan.scenarios for sid in sc.steps}
        by_id = {step.id: step for step in self.plan.steps}
        for step in self.plan.steps:
            scenario = scenario_of.get(step.id)
            item: BlockItem | ScenarioItem
            if scenario is None:
                item = BlockItem.from_parent(self, name=step.id, step=step)
            elif step.id == scenario.steps[0]:
                item = ScenarioItem.from_parent(
                    self,
                    name=scenario.where,
                    scenario=scenario,
                    steps=[by_id[sid] for sid in scenario.steps],
                )
            else:
                continue
            self.items.add(item.name)
            yield item

    def setup(self) -> None:
        self.started = time.monotonic()
        self.run = self.config.stash[SESSION_KEY].verification().page(self.plan)

    def teardown(self) -> None:
        if self.run is not None:
            run, self.run = self.run, None
            run.close()
            if run.unclean is not None:
                pytest.fail(f"{run.page}: {run.unclean.message}", pytrace=False)
            # a page cut by -k, --deselect or -x has no record: it did not run to its end
            if self.ran >= self.items:
                self.config.stash[SESSION_KEY].page_done(
                    self.plan, time.monotonic() - self.started)


class BlockItem(pytest.Item):
    def __init__(self, *, step: Step, **kw: Any) -> None:
        super().__init__(**kw)
        self.step = step

    def runtest(self) -> None:
        assert isinstance(self.parent, PageCollector) and self.parent.run is not None
        self.parent.ran.add(self.name)
        res = self.parent.run.run(self.step)
        if res.status == "skipped":
            pytest.skip(f"{res.reason}")
        if res.status == "blocked":
            pytest.skip(res.message)
        if res.status != "passed":
            raise BlockFailure(res)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, BlockFailure):
            res = excinfo.value.res
            parts = [res.message]
            if res.command:
                parts += ["", "command:", *("    " + x for x in res.command.split("\n"))]
            if res.diff:
                parts += ["", res.diff]
            elif res.actual:
                tail = res.actual.rstrip().split("\n")[-30:]
                parts += ["", "output:", *("    " + x for x in tail)]
            return "\n".join(parts)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[str, int, str]:
        return self.step.block.page, self.step.block.line - 1, self.step.id


class ScenarioFailure(Exception):
    def __init__(self, res: ScenarioResult, block: BlockResult | None) -> None:
        super().__init__(res.message)
        self.res = res
        self.block = block


class ScenarioItem(pytest.Item):
    """A runbook section proven against its fault: its blocks run in order while the
    fault is injected; the item passes only when the whole scenario does."""

    def __init__(self, *, scenario: ScenarioPlan, steps: list[Step], **kw: Any) -> None:
        super().__init__(**kw)
        self.scenario = scenario
        self.steps = steps

    def runtest(self) -> None:
        assert isinstance(self.parent, PageCollector) and self.parent.run is not None
        self.parent.ran.add(self.name)
        run = self.parent.run
        results = [run.run(step) for step in self.steps]
        res = run.finished.get(self.scenario.id)
        assert res is not None, f"scenario {self.scenario.id} did not finish"
        if res.status != "passed":
            first = next((r for r in results if r.status not in ("passed", "skipped")), None)
            raise ScenarioFailure(res, first)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioFailure):
            res, block = excinfo.value.res, excinfo.value.block
            parts = [f"not proven against fault {res.fault}: {res.message}"]
            if block is not None and block.message != res.message:
                parts += ["", f"{block.id}: {block.message}"]
                if block.diff:
                    parts += ["", block.diff]
            return "\n".join(parts)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[str, int, str]:
        return self.scenario.page, self.scenario.line - 1, self.name


@pytest.fixture(scope="session")
def opsbook_sandbox(request: pytest.FixtureRequest) -> ComposeSandbox:
    """The running sandbox, owned by this plugin (up if needed, down at session end)."""
    from opsbook.errors import OpsbookError

    try:
        return request.config.stash[OWNER_KEY].acquire()
    except OpsbookError as exc:
        pytest.fail("\n".join(exc.problems), pytrace=False)


def _xdist_worker(config: pytest.Config) -> str | None:
    """'gw1' in a pytest-xdist worker; None in a plain session or the controller."""
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else None


def _xdist_controller(config: pytest.Config) -> bool:
    return _xdist_worker(config) is None and bool(getattr(config.option, "numprocesses", 0))


def pytest_configure(config: pytest.Config) -> None:
    worker = _xdist_worker(config)
    if worker is not None:
        from opsbook.facts.instances import VARIABLE

        # before anything loads the facts: this worker's sandbox is instance K
        os.environ.setdefault(VARIABLE, worker.removeprefix("gw"))
    if _xdist_controller(config) and config.getoption("opsbook", default=False):
        if config.getoption("dist", "no") != "loadscope":
            raise pytest.UsageError(
                "pytest --opsbook -n N needs --dist loadscope: a page's blocks share one "
                "shell session, so a page must stay on one worker"
            )
        from opsbook.project import find_project

        state = find_project(config.getoption("opsbook_project"), start=config.rootpath)
        for stale in state.state_dir.glob("results-gw*.json"):
            stale.unlink()
    owner = SandboxOwner(config)
    config.stash[OWNER_KEY] = owner
    # SIGTERM (a cancelled CI job) stops the session as Ctrl-C does: pages are closed,
    # results marked interrupted, the sandbox taken down
    signals = ExitStack()
    signals.enter_context(terminate_as_interrupt())
    config.stash[SIGNALS_KEY] = signals
    if config.getoption("opsbook", default=False):
        session = OpsbookSession(config, owner)
        config.stash[SESSION_KEY] = session
        # The site is one more thing to collect, after whatever else was asked for.
        site = str(session.project.root / "mkdocs.yml")
        if site not in config.args:
            config.args.append(site)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SiteFile | None:
    session = parent.config.stash.get(SESSION_KEY, None)
    if session is None or file_path != session.project.root / "mkdocs.yml":
        return None
    return SiteFile.from_parent(parent, path=file_path)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = session.config.stash.get(SESSION_KEY, None)
    if run is not None and _xdist_controller(session.config):
        _merge_workers(run.project)
    elif run is not None:
        run.finish(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)


def _merge_workers(project: Project) -> None:
    """The workers' results files, as one results.json (and kept pages)."""
    from opsbook.harness.reporting import results as results_file
    from opsbook.harness.reporting import store

    parts = sorted(project.state_dir.glob("results-gw*.json"))
    if parts:
        store.publish(store.merge(results_file.read_file(p) for p in parts), project.state_dir)


def pytest_unconfigure(config: pytest.Config) -> None:
    owner = config.stash.get(OWNER_KEY, None)
    try:
        if owner is not None:
            owner.release()
    finally:
        signals = config.stash.get(SIGNALS_KEY, None)
        if signals is not None:
            signals.close()
