"""MkDocs adapter: pages are rendered in memory by `opsbook.render`, never written to docs/.

One render serves both the site and the doc-test harness, so the harness executes exactly
the Markdown the site shows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.livereload import LiveReloadServer
from mkdocs.plugins import BasePlugin
from mkdocs.structure.pages import Page

from opsbook import sitefile
from opsbook.errors import OpsbookError
from opsbook.facts import load_facts
from opsbook.harness.reading.adopt import Adoption
from opsbook.harness.reading.extract import extract
from opsbook.harness.reading.site_markdown import SiteMarkdown, for_site
from opsbook.harness.reporting.badges import (
    annotate_page,
    load_kubernetes_results,
    load_results,
)
from opsbook.mkdocs_plugin.config import OpsbookConfig
from opsbook.mkdocs_plugin.live import LiveRunner
from opsbook.project import Project, find_project
from opsbook.render import Renderer

log = logging.getLogger("mkdocs.plugins.opsbook")


class OpsbookPlugin(BasePlugin[OpsbookConfig]):
    def __init__(self) -> None:
        self.project: Project | None = None
        self.renderer: Renderer | None = None
        self.results = None
        self.kubernetes = None  # the kind backend's results, when a run left them
        self.live: LiveRunner | None = None  # under `mkdocs serve` with `live: true`
        self.serving = False
        self.site: SiteMarkdown | None = None
        self.adoption = Adoption()

    def on_startup(self, *, command: str, dirty: bool) -> None:
        # Defining on_startup keeps this object across `mkdocs serve` rebuilds, so the live
        # runner remembers what each page looked like at the last build.
        self.serving = command == "serve"

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        # Runs again on every rebuild under `mkdocs serve`, so edited facts are re-read.
        # the same lookup as the CLI's, with mkdocs.yml's folder as the explicit choice
        self.project = find_project(Path(config.config_file_path).resolve().parent)
        try:
            facts = load_facts(self.project.facts_dir)
        except OpsbookError as exc:
            self._fail(exc, "the facts are invalid; nothing was built")
        self.results = load_results(self.project) if self.config.badges else None
        self.kubernetes = load_kubernetes_results(self.project) if self.config.badges else None
        self.renderer = Renderer(self.project, facts, self.results)
        if not self.serving:  # a one-off build is often cold (CI); serve's rebuilds are warm
            self.renderer.precompile()
        live = self.config.live or os.environ.get("OPSBOOK_LIVE", "") not in ("", "0")
        if self.serving and live and self.live is None:
            self.live = LiveRunner(self.project)
        self.site = None  # built at the first page: after every plugin's on_config
        try:
            self.adoption = Adoption.from_option(self.config.adopt)
        except OpsbookError as exc:
            self._fail(exc, "the plugin's options are invalid")
        return config

    def _site(self, config: MkDocsConfig) -> SiteMarkdown:
        """The Markdown this build renders with, as every plugin left it (techdocs-core
        adds its extensions in its own on_config): blocks are found as they render."""
        if self.site is None:
            path = Path(config.config_file_path).resolve()
            self.site = for_site(sitefile.SiteFile(
                path, tuple(str(e) for e in config.markdown_extensions),
                {k: dict(v) for k, v in (config.mdx_configs or {}).items()},
            ))
        return self.site

    def on_page_read_source(self, page: Page, config: MkDocsConfig) -> str | None:
        assert self.renderer is not None
        src = page.file.src_uri
        try:
            markdown = self.renderer.render_page(src)
        except OpsbookError as exc:
            self._fail(exc, f"{src} did not render")
        site = self._site(config)
        blocks, _problems = extract(src, markdown, site)  # lenient: the build must not crash
        if self.live is not None and self.adoption.adopts(src):
            self.live.built(src, blocks)
        return annotate_page(src, markdown, self.results, site=site, blocks=blocks,
                             adopted=self.adoption.adopts(src), kubernetes=self.kubernetes)

    def on_post_build(self, config: MkDocsConfig) -> None:
        if self.renderer is not None:
            self.renderer.flush()  # the pages rendered this build, for the next one

    def on_build_error(self, *, error: Exception) -> None:
        if self.renderer is not None:
            self.renderer.stop_precompiling()

    def on_serve(
        self, server: LiveReloadServer, config: MkDocsConfig, builder: Callable[..., object]
    ) -> LiveReloadServer:
        # docs/ is watched by mkdocs itself; facts and snippets feed every page too.
        assert self.project is not None
        for path in (self.project.facts_dir, self.project.snippets_dir):
            if path.is_dir():
                server.watch(str(path))
        if self.live is not None:
            server.watch(str(self.live.done_dir), recursive=False)
        return server

    def on_shutdown(self) -> None:
        if self.live is not None:
            self.live.stop()

    @staticmethod
    def _fail(exc: OpsbookError, summary: str):
        for line in exc.problems:
            log.error(line)
        raise PluginError(f"opsbook: {summary} ({len(exc.problems)} problem(s) above)")
