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

import hashlib
import json
import os
import traceback
from pathlib import Path
from types import CodeType
from typing import Any

import jinja2
from jinja2 import pass_context
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from opsbook import cache as disk
from opsbook.alerts.rules import alert_rows, record_name
from opsbook.errors import OpsbookError
from opsbook.facts import Facts, load_facts
from opsbook.facts.durations import duration_seconds, human_duration
from opsbook.harness.model import RunResults
from opsbook.harness.reporting.coverage import coverage
from opsbook.precompile import Job, Precompiler
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


class _Recording:
    """An environment that notes every template a render loads (the page, its includes,
    imports and snippets, and names tried but missing): what the render cache checks."""

    loaded: list[str] | None = None

    def _load_template(self, name: str, globals: Any) -> Any:
        if self.loaded is not None:
            self.loaded.append(name)
        return super()._load_template(name, globals)  # type: ignore[misc]


class _Sandbox(_Recording, ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with its verdict on each attribute remembered.

    Whether the sandbox allows `obj.attr` depends only on the type of `obj` and the name
    (`is_internal_attribute`, `modifies_known_mutable` test nothing else), so the answer
    is kept per (type, name): the same checks, made once instead of on every access."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._safe: dict[tuple[type, str], bool] = {}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        key = (type(obj), attr)
        try:
            return self._safe[key]
        except KeyError:
            safe = self._safe[key] = super().is_safe_attribute(obj, attr, value)
            return safe
        except TypeError:  # an attribute name that is not hashable: just ask
            return super().is_safe_attribute(obj, attr, value)


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
        self.loader = _Utf8Loader([project.docs_dir, project.root])
        self.env = _Sandbox(
            loader=self.loader,
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
        self.cache = _render_cache(project)
        self._key: str | None = None
        self._hits: dict[str, str] = {}  # pages precompile() found in the render cache

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
            # `record("cpu")` -> opsbook:cpu:value, the series the metric's alerts compare
            "record": record_name,
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
        cached = self._hits.pop(page, None) or self._cached(page)
        if cached is not None:
            return cached
        env = self.env
        if not (isinstance(env, _Recording) and self.cache.enabled):
            return self._render(page)
        env.loaded = []
        try:
            text = self._render(page)
            self._store(page, env.loaded, text)
        finally:
            env.loaded = None
        return text

    # -- the render cache ------------------------------------------------------------------
    # A page's entry holds its text and every template the render loaded, each with a
    # digest of its source (or "missing"). It is used only while the key (opsbook's code,
    # the environment, the facts, the run results the coverage page reads) is the same and
    # every one of those templates still has that source, looked up the way Jinja looks it
    # up (docs/ before the project root, so a new file that shadows a snippet counts).

    def precompile(self) -> None:
        """Start compiling, in a child process, every page and snippet whose compiled code
        is not cached, so a cold build renders with code compiled beside its own start-up
        (`opsbook.precompile`). Pages the render cache holds need no code, and then
        neither do the snippets unless some page does."""
        bcc, loader = self.env.bytecode_cache, self.loader
        if bcc is None or loader.precompiler is not None:
            return
        pages = []
        for page in self.pages():
            if (text := self._cached(page)) is None:
                pages.append(page)
            else:
                self._hits[page] = text  # render_page takes it without a second lookup
        if not pages:
            return
        snippets = self.project.snippets_dir
        names = pages + (sorted(
            f"snippets/{p.relative_to(snippets).as_posix()}"  # .md, and .j2 macros
            for p in snippets.rglob("*") if p.is_file()
        ) if snippets.is_dir() else [])
        jobs: dict[str, Job] = {}
        for name in names:
            try:
                source, filename, _ = loader.get_source(self.env, name)
            except Exception:  # noqa: BLE001 - the render reports it, with page and line
                continue
            shared = loader.digests[name]
            if shared not in jobs and bcc.get_bucket(self.env, name, filename, source).code is None:
                jobs[shared] = (shared, source, name, filename)
        loader.precompiler = Precompiler.start(self.env.compile, list(jobs.values()))

    def stop_precompiling(self) -> None:
        if self.loader.precompiler is not None:
            self.loader.precompiler.close()
            self.loader.precompiler = None

    def flush(self) -> None:
        """Write what this renderer added to its caches (after a build), and reap the
        compiling child if one was started."""
        self.stop_precompiling()
        self.cache.flush()
        if isinstance(self.env.bytecode_cache, _PackedBytecode):
            self.env.bytecode_cache.flush()

    def _context_key(self) -> str:
        if self._key is None:
            self._key = disk.digest(
                disk.code_digest(), type(self.env).__qualname__, json.dumps(SYNTAX),
                self.facts.model_dump_json(warnings=False),
                repr(self.results) if self.results is not None else "no results",
            )
        return self._key

    def _source_digest(self, name: str) -> str:
        known = self.loader.digests.get(name)
        if known is not None:
            return known
        try:
            self.loader.get_source(self.env, name)
        except jinja2.TemplateNotFound:
            return "missing"
        except Exception:  # noqa: BLE001 - unreadable now: never equal to a stored digest
            return "unreadable"
        return self.loader.digests.get(name, "unreadable")

    def _cache_name(self, page: str) -> str:
        return f"{page}\0{'results' if self.results is not None else 'plain'}"

    def _cached(self, page: str) -> str | None:
        if not self.cache.enabled:
            return None
        payload = self.cache.get(self._cache_name(page), disk.digest(self._context_key(), page))
        if payload is None:
            return None
        try:
            entry = json.loads(payload)
            deps, text = entry["deps"], entry["text"]
            if not isinstance(text, str) or not all(
                self._source_digest(name) == d for name, d in deps
            ):
                return None
        except Exception:  # noqa: BLE001 - a damaged entry is a miss
            return None
        return text

    def _store(self, page: str, loaded: list[str], text: str) -> None:
        deps = [[name, self._source_digest(name)] for name in dict.fromkeys(loaded)]
        if any(d == "unreadable" for _, d in deps):
            return
        payload = json.dumps({"deps": deps, "text": text}).encode()
        self.cache.put(self._cache_name(page), disk.digest(self._context_key(), page), payload)

    def _render(self, page: str) -> str:
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
        with disk.gc_paused():
            for page in self.pages():
                try:
                    out[page] = self.render_page(page)
                except RenderError as exc:
                    problems += exc.problems
        self.flush()
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
    its bytes. Remembers a digest of each template's source as last read (`digests`), and
    compiles each distinct source once: templates with the same text share compiled code."""

    def __init__(self, searchpath: Any) -> None:
        super().__init__(searchpath)
        self.digests: dict[str, str] = {}
        self._compiled: dict[str, CodeType] = {}
        self.precompiler: Precompiler | None = None  # a child compiling a cold build's

    def get_source(self, environment: jinja2.Environment, template: str) -> Any:
        try:
            found = super().get_source(environment, template)
        except jinja2.TemplateNotFound:
            self.digests[template] = "missing"
            raise
        except UnicodeDecodeError as exc:
            data = exc.object
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise RenderError(
                f"{display_path(self._file_of(template))}:{line}: not valid UTF-8 "
                f"(byte 0x{data[exc.start]:02x} at column {column}); templates are UTF-8 text"
            ) from None
        self.digests[template] = hashlib.sha256(found[0].encode()).hexdigest()
        return found

    @jinja2.utils.internalcode
    def load(self, environment: jinja2.Environment, name: str, globals: Any = None) -> Any:
        """BaseLoader.load, with compiled code shared between templates of the same source
        (compiling is most of a cold render). Code holds the name and file it was compiled
        for; the template gets its own, which is what tracebacks and errors use."""
        source, filename, uptodate = self.get_source(environment, name)
        shared = self.digests[name]  # what get_source just recorded for this source
        bcc = environment.bytecode_cache
        bucket = bcc.get_bucket(environment, name, filename, source) if bcc else None
        code = bucket.code if bucket is not None else None
        if code is None:
            code = (self._compiled.get(shared)
                    or (self.precompiler.take(shared) if self.precompiler else None)
                    or environment.compile(source, name, filename))
        if bcc is not None and bucket is not None and bucket.code is None:
            bucket.code = code
            bcc.set_bucket(bucket)
        self._compiled.setdefault(shared, code)
        template = environment.template_class.from_code(
            environment, code, globals if globals is not None else {}, uptodate
        )
        template.name, template.filename = name, filename
        return template

    def _file_of(self, template: str) -> str:
        """The file FileSystemLoader read for `template`: the first search path with it."""
        pieces = split_template_path(template)
        for searchpath in self.searchpath:
            candidate = os.path.join(searchpath, *pieces)
            if os.path.isfile(candidate):
                return candidate
        return template


def _bytecode_cache(project: Project) -> _PackedBytecode | None:
    directory = project.state_dir / "jinja-cache"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only checkout renders fine, only slower
    # Sandboxed code is compiled differently (every call is checked), and the cache is
    # keyed by template source only: never load code compiled outside the sandbox.
    return _PackedBytecode(directory / "__opsbook_sandboxed_pack.cache")


class _PackedBytecode(jinja2.BytecodeCache):
    """Compiled templates in one file (Jinja's FileSystemBytecodeCache writes one per
    template, and creating a thousand files is slower than compiling a few). Each entry
    is a bucket as Jinja writes it, which checks its own source checksum when loaded."""

    def __init__(self, path: Path) -> None:
        self.store = disk.DiskCache(path)

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self.store.get(bucket.key, "bucket")
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.store.put(bucket.key, "bucket", bucket.bytecode_to_string())

    def flush(self) -> None:
        self.store.flush()


def _render_cache(project: Project) -> disk.DiskCache:
    return disk.DiskCache(project.state_dir / "render-cache.pickle")


@pass_context
def _snippet(ctx: jinja2.runtime.Context, name: str) -> str:
    """Render snippets/<name> with the calling page's context; returns its Markdown."""
    template = ctx.environment.get_template(f"snippets/{name}")
    return template.render(ctx.get_all()).rstrip("\n")


def render_site(project: Project, facts: Facts | None = None) -> dict[str, str]:
    """page path (relative to docs/) -> the exact Markdown the site shows for it."""
    facts = facts if facts is not None else load_facts(project.facts_dir)
    return Renderer(project, facts).render_all()
