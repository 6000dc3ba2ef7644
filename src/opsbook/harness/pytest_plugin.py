"""pytest plugin: `pytest --opsbook` collects every shell block on the site as an item.

Item ids are `page.md:LINE` (the rendered page's line, as `opsbook snippets list` shows).
Items run in page order, setup first and teardown last, one shell session per page; a
failure reports the command, the page line and a diff of expected vs actual output.
JUnit XML comes from pytest itself (`--junitxml`). The sandbox must be up (`opsbook
sandbox up`), or pass `--opsbook-sandbox` to bring it up and down around the session.
Results are also written to .opsbook/results.json for the site's badges.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from opsbook.harness.model import BlockResult, Step

if TYPE_CHECKING:  # the runner is imported only when --opsbook asks for it
    from opsbook.harness.runner import PageRun


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("opsbook")
    group.addoption("--opsbook", action="store_true", help="run the site's shell blocks")
    group.addoption("--opsbook-page", action="append", default=[], help="only this page")
    group.addoption("--opsbook-sandbox", action="store_true", help="sandbox up/down around")


class BlockFailure(Exception):
    def __init__(self, res: BlockResult) -> None:
        super().__init__(res.message)
        self.res = res


class OpsbookRun:
    """Per-session state: one PageRun per page, opened on its first item, closed after its last."""

    def __init__(self, config: pytest.Config) -> None:
        from opsbook.harness import report
        from opsbook.harness.collect import load
        from opsbook.harness.env import scrubbed_env
        from opsbook.project import Project

        self.config = config
        self.project = Project.find(config.rootpath)
        self.pages, self.forbidden, self.facts = load(
            self.project, None, config.getoption("opsbook_page") or None
        )
        self.tmp = tempfile.TemporaryDirectory(prefix="opsbook-run-")
        self.sandbox = None
        extra: dict[str, str] = {}
        try:
            import opsbook.sandbox as sandbox

            self.sandbox = sandbox
            extra = sandbox.compose_environment(self.project, self.facts)
        except (ImportError, AttributeError):
            pass
        self.env = scrubbed_env(Path(self.tmp.name), extra)
        self.results = report.new_run(self.project.root)
        self.runs: dict[str, PageRun] = {}
        self.remaining: dict[str, int] = {p.page: len(p.steps) for p in self.pages}

    def run(self, page: str, step: Step) -> BlockResult:
        from opsbook.harness.runner import PageRun

        run = self.runs.get(page)
        if run is None:
            run = self.runs[page] = PageRun(page, Path(self.tmp.name), self.env, self.forbidden)
        try:
            res = run.run(step)
        finally:
            self.remaining[page] -= 1
            if self.remaining[page] == 0:
                run.close()
        self.results.blocks.append(res)
        return res

    def finish(self) -> None:
        from opsbook.harness import report

        if self.results.blocks:
            report.write(self.results, self.project.state_dir)
        self.tmp.cleanup()


class BlockItem(pytest.Item):
    def __init__(self, *, step: Step, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.step = step

    def runtest(self) -> None:
        run: OpsbookRun = self.config.stash[RUN_KEY]
        res = run.run(self.step.block.page, self.step)
        if res.status == "skipped":
            pytest.skip(f"{res.reason}")
        if res.status == "blocked":
            pytest.skip(res.message)
        if res.status != "passed":
            raise BlockFailure(res)

    def repr_failure(self, excinfo, style=None):  # noqa: ANN001 - pytest's signature
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

    def reportinfo(self):  # noqa: ANN201
        return self.step.block.page, self.step.block.line - 1, self.step.id


RUN_KEY = pytest.StashKey[OpsbookRun]()


class SiteFile(pytest.File):
    def collect(self):  # noqa: ANN201
        run: OpsbookRun = self.config.stash[RUN_KEY]
        problems = [pr for p in run.pages for pr in p.problems]
        if problems:
            raise pytest.UsageError("\n".join(problems))
        for p in run.pages:
            for step in p.steps:
                yield BlockItem.from_parent(self, name=step.id, step=step)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("opsbook", default=False):
        run = OpsbookRun(config)
        config.stash[RUN_KEY] = run
        # The site is one more thing to collect, after whatever else was asked for.
        site = str(run.project.root / "mkdocs.yml")
        if site not in config.args:
            config.args.append(site)
        if config.getoption("opsbook_sandbox") and run.sandbox is not None:
            run.sandbox.up(run.project, run.facts)


def pytest_collect_file(file_path: Path, parent: pytest.Collector):  # noqa: ANN201
    run = parent.config.stash.get(RUN_KEY, None)
    if run is None or file_path != run.project.root / "mkdocs.yml":
        return None
    return SiteFile.from_parent(parent, path=file_path)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    run.finish()
    if config.getoption("opsbook_sandbox") and run.sandbox is not None:
        run.sandbox.down(run.project, run.facts)
