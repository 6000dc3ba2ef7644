"""One build of the site, served on 127.0.0.1, and one headless Chromium for the session.

The site is built once with `mkdocs build --strict` from a temporary copy of the project
holding a synthetic `.opsbook/results.json` (one block failed with a known message, one
skipped, one left unverified, every other block passed): the verification display is
checked without the sandbox, and the project's own `.opsbook/` is left alone.

Every request the browser makes to any address but that server is aborted and recorded,
so each page is read as an engineer would read it offline; a test that caused one fails
listing them.

Needs Debian's `chromium` and the `playwright` package; never `playwright install` (the
browser comes from Debian). Missing either fails the tests with what to install: a browser
test that skips would pass CI without ever looking at the site.
"""

from __future__ import annotations

import functools
import re
import shutil
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from opsbook.harness.model import Block, BlockResult, RunResults
from opsbook.harness.reading.plan import Plan, plan_pages
from opsbook.harness.reporting import results as report
from opsbook.project import Project
from tests.helpers import build

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PARTS = ("mkdocs.yml", "facts", "docs", "snippets")  # what a page build reads
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / ".opsbook" / "screenshots"  # CI keeps this folder as an artifact
FAILURE_MESSAGE = "synthetic failure for the browser tests: expected 'ready', got 'refused'"
# --no-sandbox: we run as root. The resolver rule keeps the browser itself off the network:
# routing (Browsing) stops the pages' requests, but Chromium also looks up hosts of its own.
CHROMIUM_ARGS = ["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
VIEWPORT = {"width": 1280, "height": 900}  # wide enough for Material's header search box
MERMAID_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*mermaid\b", re.MULTILINE)


@dataclass(frozen=True)
class Synthetic:
    """The blocks whose results the tests know, each unique on its page. Only `skipped` may
    sit in a content tab (`Block.tabs`, the tabs to select to see it)."""

    failed: Block
    skipped: Block
    unverified: Block  # no result at all
    message: str


@dataclass
class Site:
    root: Path  # the project copy the site was built from
    out: Path  # the built site
    url: str  # http://127.0.0.1:PORT, no trailing slash
    paths: list[str]  # every page, from the sitemap: "/", "/deployment/", ...
    plan: Plan  # the pages as the harness reads them (blocks, classifications)
    synthetic: Synthetic

    def path_of(self, page: str) -> str:
        """docs page (`deployment.md`, `index.md`) -> its URL path (`/deployment/`, `/`)."""
        stem = page.removesuffix(".md")
        stem = stem.removesuffix("index").rstrip("/")
        return f"/{stem}/" if stem else "/"

    def diagrams(self, path: str) -> int:
        """How many Mermaid diagrams the page's Markdown has."""
        return sum(
            len(MERMAID_FENCE.findall(p.text)) for p in self.plan.pages
            if self.path_of(p.page) == path
        )


def _copy_project(dest: Path) -> Project:
    dest.mkdir()
    for part in PROJECT_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
        else:
            shutil.copy2(src, dest / part)
    return Project(dest)


def _synthesize(project: Project) -> tuple[Plan, Synthetic]:
    """Write `.opsbook/results.json` into the copy, matched to blocks as the site matches
    them (page, digest, line): that is how badges.py finds a block's result."""
    plan = plan_pages(project)
    known: list[tuple[Block, str]] = []  # candidates: (block, kind), in page order
    for page in plan.pages:
        bodies = Counter(b.body for b, _ in page.shell)
        known += [(b, c.kind) for b, c in page.shell if not b.hidden and bodies[b.body] == 1]
    runs = [b for b, kind in known if kind == "run" and not b.tabs]
    # skipped blocks are mostly the staging/production tabs: outside tabs where there is one
    skips = sorted((b for b, kind in known if kind == "skip"), key=lambda b: bool(b.tabs))
    assert len(runs) >= 2 and skips, "the site has too few shell blocks to test badges on"
    synthetic = Synthetic(failed=runs[0], skipped=skips[0], unverified=runs[1],
                          message=FAILURE_MESSAGE)

    results = RunResults(commit="browser0000", time="2026-01-02T03:04:05+00:00",
                         state="complete", isolation="rootless, as opsbook-runner")
    for page in plan.pages:
        for b, c in page.shell:
            common = {"page": b.page, "line": b.line, "lang": b.lang, "digest": b.digest,
                      "role": c.role, "duration": 0.1}
            if b.id == synthetic.unverified.id:
                continue
            if b.id == synthetic.failed.id:
                first = b.body.split("\n", 1)[0].removeprefix("$ ")
                results.blocks.append(BlockResult(
                    **common, status="failed", message=FAILURE_MESSAGE, command=first,
                    exit_code=1))
            elif c.kind == "run":
                results.blocks.append(BlockResult(**common, status="passed"))
            elif c.kind == "skip" and c.reason is not None:
                results.blocks.append(BlockResult(
                    **common, status="skipped", reason=c.reason.value))
    report.write(results, project.state_dir)
    return plan, synthetic


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a page closed mid-download (BrokenPipeError): nothing the tests care about


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    project = _copy_project(tmp_path_factory.mktemp("browser") / "project")
    plan, synthetic = _synthesize(project)
    out = project.root / "site"
    done = build(project, out)
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if not line.startswith("INFO")]
        pytest.fail("mkdocs build --strict failed:\n" + "\n".join(said[-40:]), pytrace=False)

    server = _Server(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    sitemap = ET.parse(out / "sitemap.xml").getroot()
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    paths = [urlsplit(loc.text or "").path or "/" for loc in sitemap.findall("s:url/s:loc", ns)]
    assert paths, "the sitemap lists no pages"
    try:
        yield Site(project.root, out, url, paths, plan, synthetic)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]' "
                    "(the Python package only; never run `playwright install`)", pytrace=False)
    if not CHROMIUM.is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y --no-install-recommends "
                    "chromium (scripts/bootstrap installs it)", pytrace=False)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Browsing:
    """A browser context on the site: requests elsewhere are aborted and recorded, and so
    are console errors and uncaught exceptions of every page it opens."""

    def __init__(self, browser: Any, site: Site, **context_args: Any) -> None:
        self.site = site
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.page: Any = None
        self.context = browser.new_context(viewport=VIEWPORT, **context_args)
        self.context.set_default_timeout(15_000)
        self.context.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(self.site.url + "/"):
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def open(self, path: str) -> Any:
        """The context's one tab, navigated to `path` (a new tab per page costs twice as much)."""
        if self.page is None:
            page = self.page = self.context.new_page()
            page.on("console", lambda m: m.type == "error" and self.errors.append(
                f"{page.url}: console: {m.text}"))
            page.on("pageerror", lambda e: self.errors.append(f"{page.url}: uncaught: {e}"))
        self.page.goto(self.site.url + path)
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def browsing(browser: Any, site: Site) -> Iterator[Browsing]:
    b = Browsing(browser, site)
    yield b
    b.close()
    assert not b.foreign, "requests to other hosts (aborted):\n" + "\n".join(b.foreign)


@pytest.fixture
def clipboard_browsing(browser: Any, site: Site) -> Iterator[Browsing]:
    b = Browsing(browser, site, permissions=["clipboard-read", "clipboard-write"])
    yield b
    b.close()
    assert not b.foreign, "requests to other hosts (aborted):\n" + "\n".join(b.foreign)
