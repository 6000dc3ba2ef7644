"""Render page templates (docs/**/*.md) and snippets with the facts.

The delimiters are not Jinja's defaults, because runbooks are full of `{{ }}` that belong
to other tools (`docker inspect --format '{{.State.Health.Status}}'`, Alertmanager and
Go templates, GitHub Actions' `${{ }}`) and `{# #}` collides with bash's `${#var}`:

    {{{ expr }}}      a value from the facts        {{{ facts.service("api").port }}}
    {% stmt %}        a statement                    {% for t in thresholds.values() %}
    {## comment ##}   a template comment, not shown

Everything else, `{{ }}` included, passes through byte for byte. Names that do not exist
fail loudly (StrictUndefined) with the page and line.

Templates run in Jinja's sandbox: they read the facts, and nothing else of Python. A
template that reaches for internals (`cycler.__init__.__globals__`, `''.__class__`) fails
the render with page and line instead of running anything.

Snippets (snippets/*.md) are rendered with the same facts: `{{{ snippet("x.md") }}}` or
`{% include "snippets/x.md" %}`. Inside an admonition or content tab, indent the snippet's
continuation lines to match: `{{{ snippet("x.md") | indent(4) }}}`.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

import jinja2
from jinja2 import pass_context
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from opsbook.alerts.rules import alert_rows
from opsbook.errors import OpsbookError
from opsbook.facts import Facts, load_facts
from opsbook.facts.durations import duration_seconds, human_duration
from opsbook.harness.model import RunResults
from opsbook.harness.reporting.coverage import coverage
from opsbook.project import Project, display_path

SYNTAX: dict[str, str] = {
    "variable_start_string": "{{{",
    "variable_end_string": "}}}",
    "block_start_string": "{%",
    "block_end_string": "%}",
    "comment_start_string": "{##",
    "comment_end_string": "##}",
}

class RenderError(OpsbookError):
    """One or more pages failed to render; each problem names page and line."""


class Renderer:
    """Renders pages of one project with one set of facts. Cheap to create per build."""

    def __init__(
        self, project: Project, facts: Facts, results: RunResults | None = None
    ) -> None:
        self.project = project
        self.facts = facts
        self.results = results  # the last verification run, for the coverage page
        # docs/ first so pages are found by their path relative to docs/; the project
        # root second so snippets are included as "snippets/<name>".
        self.env = ImmutableSandboxedEnvironment(
            loader=_Utf8Loader([project.docs_dir, project.root]),
            # Compiled templates, keyed by a checksum of their source, survive between
            # builds and processes; compiling is most of what rendering costs.
            bytecode_cache=_bytecode_cache(project),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            **SYNTAX,
        )
        self.env.filters["duration"] = human_duration
        self.env.filters["seconds"] = duration_seconds
        self.env.globals.update(self._context())

    def _context(self) -> dict[str, Any]:
        f = self.facts
        alerts = alert_rows(f)
        return {
            "facts": f,
            "platform": f.platform,
            "services": {s.name: s for s in f.services},
            "service": f.service,
            "environments": f.environments,
            "sandbox": f.sandbox,
            "thresholds": f.thresholds,
            "severities": f.severities,
            "contacts": f.contacts,
            "backup": f.backup,
            "deployment": f.deployment,
            "snippet": _snippet,
            # the alerts exactly as the generated Prometheus rules define them
            "alerts": alerts,
            # faults x alerts x runbooks with the last run's proofs (no run: all "not run")
            "coverage": coverage(f, self.results, alerts),
        }

    def pages(self) -> list[str]:
        """Every Markdown page under docs/, as paths relative to docs/ with '/'."""
        docs = self.project.docs_dir
        return sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md"))

    def render_page(self, page: str) -> str:
        """The Markdown the site shows for `page` (a path relative to docs/)."""
        try:
            return self.env.get_template(page).render(page=page)
        except RenderError:
            raise  # a template that is not UTF-8: already names its file and line
        except jinja2.TemplateNotFound as exc:
            raise RenderError(self._located(exc, page, f"template not found: {exc.name}")) from None
        except jinja2.TemplateSyntaxError as exc:
            where = f"{self._display(exc.filename, page)}:{exc.lineno}"
            raise RenderError(f"{where}: template syntax error: {exc.message}") from None
        except SecurityError as exc:
            message = f"not allowed in a page template (templates read facts only): {exc}"
            raise RenderError(self._located(exc, page, message)) from None
        except Exception as exc:  # any error inside a template is the author's
            message = str(exc) if isinstance(exc, jinja2.UndefinedError) else repr(exc)
            if isinstance(exc, jinja2.UndefinedError):
                message = f"undefined name: {message}"
            raise RenderError(self._located(exc, page, message)) from None

    def render_all(self) -> dict[str, str]:
        """Every page rendered; all failures are collected before raising."""
        out: dict[str, str] = {}
        problems: list[str] = []
        for page in self.pages():
            try:
                out[page] = self.render_page(page)
            except RenderError as exc:
                problems += exc.problems
        if problems:
            raise RenderError(problems)
        return out

    def _located(self, exc: BaseException, page: str, message: str) -> str:
        # Jinja rewrites tracebacks so template frames carry the template's file and line;
        # the innermost one is where the author has to look (a snippet, if it came from one).
        frame = None
        for entry in traceback.extract_tb(exc.__traceback__):
            if entry.filename.endswith((".md", ".j2", ".html")):
                frame = entry
        if frame is None:
            return f"{self._display(None, page)}: {message}"
        return f"{self._display(frame.filename, page)}:{frame.lineno}: {message}"

    def _display(self, filename: str | None, page: str) -> str:
        return display_path(filename or self.project.docs_dir / page)


class _Utf8Loader(jinja2.FileSystemLoader):
    """Templates from files; one that is not UTF-8 fails with its file and line, not with
    its bytes."""

    def get_source(self, environment: jinja2.Environment, template: str) -> Any:
        try:
            return super().get_source(environment, template)
        except UnicodeDecodeError as exc:
            data = exc.object
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise RenderError(
                f"{display_path(self._file_of(template))}:{line}: not valid UTF-8 "
                f"(byte 0x{data[exc.start]:02x} at column {column}); templates are UTF-8 text"
            ) from None

    def _file_of(self, template: str) -> str:
        """The file FileSystemLoader read for `template`: the first search path with it."""
        pieces = split_template_path(template)
        for searchpath in self.searchpath:
            candidate = os.path.join(searchpath, *pieces)
            if os.path.isfile(candidate):
                return candidate
        return template


def _bytecode_cache(project: Project) -> jinja2.BytecodeCache | None:
    directory = project.state_dir / "jinja-cache"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only checkout renders fine, only slower
    # Sandboxed code is compiled differently (every call is checked), and the cache is
    # keyed by template source only: never load code compiled outside the sandbox.
    return jinja2.FileSystemBytecodeCache(str(directory), "__opsbook_sandboxed_%s.cache")


@pass_context
def _snippet(ctx: jinja2.runtime.Context, name: str) -> str:
    """Render snippets/<name> with the calling page's context; returns its Markdown."""
    template = ctx.environment.get_template(f"snippets/{name}")
    return template.render(ctx.get_all()).rstrip("\n")


def render_site(project: Project, facts: Facts | None = None) -> dict[str, str]:
    """page path (relative to docs/) -> the exact Markdown the site shows for it."""
    facts = facts if facts is not None else load_facts(project.facts_dir)
    return Renderer(project, facts).render_all()
