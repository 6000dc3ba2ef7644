"""mkdocs.yml as opsbook reads it: the site's Markdown extensions and the plugin's options.

The harness must read pages the way the site renders them, so it takes the extensions
from the site's own mkdocs.yml (with MkDocs' built-ins, and what the `techdocs-core`
plugin adds when the site uses it), and the opsbook plugin's options (`adopt`) from the
same file the plugin gets them from.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opsbook.errors import OpsbookError
from opsbook.project import display_path

MKDOCS_YML = "mkdocs.yml"
# MkDocs loads these before the site's own list (mkdocs.config.defaults).
MKDOCS_BUILTINS = ("toc", "tables", "fenced_code")

# What `opsbook init` adds and what pages outside any site are read with: the extensions
# the harness understands (fences nest in admonitions, details, content tabs and lists).
DEFAULT_EXTENSIONS: tuple[Any, ...] = (
    "admonition",
    "attr_list",
    "md_in_html",
    "pymdownx.details",
    {"pymdownx.highlight": {"anchor_linenums": True}},
    "pymdownx.inlinehilite",
    "pymdownx.superfences",
    {"pymdownx.tabbed": {"alternate_style": True}},
)

# The extensions Backstage's `techdocs-core` plugin (1.7.1, core.py `on_config`) appends
# to the site's own, with its configs; `use_pymdownx_blocks: false` (its default).
TECHDOCS_EXTENSIONS: tuple[Any, ...] = (
    {"toc": {"permalink": True}},
    "admonition",
    "pymdownx.details",
    {"pymdownx.tabbed": {"alternate_style": True}},
    "pymdownx.caret",
    "pymdownx.critic",
    {"pymdownx.emoji": {"emoji_generator": "!!python/name:pymdownx.emoji.to_svg"}},
    "pymdownx.inlinehilite",
    "pymdownx.magiclink",
    "pymdownx.mark",
    "pymdownx.smartsymbols",
    {"pymdownx.snippets": {"restrict_base_path": True}},
    {"pymdownx.highlight": {"linenums": True, "pygments_lang_class": True}},
    {"pymdownx.extra": {"pymdownx.betterem": {"smart_enable": "all"}}},
    {"pymdownx.tasklist": {"custom_checkbox": True}},
    "pymdownx.tilde",
    "markdown_inline_graphviz",
    "plantuml_markdown",
    "mdx_truly_sane_lists",
)
TECHDOCS_PLUGIN = "techdocs-core"


class _Loader(yaml.Loader):
    """MkDocs' own loader (python tags, `!ENV`), plus `!relative` as the file's folder."""


def _relative(loader: _Loader, node: yaml.Node) -> str:
    suffix = loader.construct_scalar(node)  # type: ignore[arg-type]
    base = Path(getattr(loader, "name", ".")).resolve().parent
    return str(base / suffix) if suffix else str(base)


def _env(loader: _Loader, node: yaml.Node) -> Any:
    from mkdocs.utils.yaml import yaml_env_tag

    return yaml_env_tag.construct_env_tag(loader, node)


_Loader.add_constructor("!relative", _relative)
_Loader.add_constructor("!ENV", _env)


def _python_name(value: str) -> Any:
    import importlib

    module, _, attr = value.rpartition(".")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class SiteFile:
    """What opsbook takes from one mkdocs.yml (or the defaults, with no site)."""

    path: Path | None  # None: no mkdocs.yml, the defaults
    extensions: tuple[str, ...]  # in the order MkDocs loads them
    configs: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)
    plugin: dict[str, Any] = field(default_factory=dict, hash=False)  # opsbook's options
    plugins: tuple[str, ...] = ()  # names of every plugin the site loads
    docs_dir_name: str = "docs"  # mkdocs.yml `docs_dir`

    @property
    def root(self) -> Path | None:
        return self.path.parent if self.path is not None else None

    @property
    def docs_dir(self) -> Path | None:
        return self.root / self.docs_dir_name if self.root else None

    @property
    def techdocs(self) -> bool:
        return TECHDOCS_PLUGIN in self.plugins


def _extension_list(
    items: Any, where: str
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    names: list[str] = []
    configs: dict[str, dict[str, Any]] = {}
    if isinstance(items, dict):
        items = [{k: v} for k, v in items.items()]
    if not isinstance(items, list):
        raise OpsbookError(f"{where}: markdown_extensions must be a list")
    for item in items:
        if isinstance(item, str):
            name, cfg = item, None
        elif isinstance(item, dict) and len(item) == 1:
            ((name, cfg),) = item.items()
        else:
            raise OpsbookError(f"{where}: markdown_extensions: cannot read {item!r}")
        if name not in names:
            names.append(name)
        if cfg:
            if not isinstance(cfg, dict):
                raise OpsbookError(f"{where}: markdown_extensions: {name}: options must be a "
                                   "mapping")
            configs.setdefault(name, {}).update(cfg)
    return names, configs


def _resolve_names(value: Any) -> Any:
    """`"!!python/name:x.y"` strings in the built-in tables, as the YAML tag would load."""
    if isinstance(value, str) and value.startswith("!!python/name:"):
        return _python_name(value.removeprefix("!!python/name:"))
    if isinstance(value, dict):
        return {k: _resolve_names(v) for k, v in value.items()}
    return value


def _merge(
    names: list[str], configs: dict[str, dict[str, Any]], extra: tuple[Any, ...]
) -> None:
    more, more_cfg = _extension_list(list(extra), "built-in")
    for name in more:
        if name not in names:
            names.append(name)
    for name, cfg in more_cfg.items():
        # the plugin's settings go on top of the site's (as techdocs-core merges them)
        configs.setdefault(name, {}).update(_resolve_names(copy.deepcopy(cfg)))


def _plugins(raw: Any, where: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    names: list[str] = []
    options: dict[str, Any] = {}
    items = [{k: v} for k, v in raw.items()] if isinstance(raw, dict) else (raw or [])
    for item in items:
        if isinstance(item, str):
            name, cfg = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            ((name, cfg),) = item.items()
        else:
            raise OpsbookError(f"{where}: plugins: cannot read {item!r}")
        names.append(name)
        if name == "opsbook":
            options = dict(cfg or {})
    return tuple(names), options


def load(path: Path) -> SiteFile:
    """Read one mkdocs.yml; a file MkDocs could not read either is a one-line error."""
    where = display_path(path)
    try:
        with path.open(encoding="utf-8") as f:
            data = yaml.load(f, Loader=_Loader) or {}  # noqa: S506 - MkDocs loads it so too
    except (OSError, yaml.YAMLError, ImportError, AttributeError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OpsbookError(f"{where}: cannot read it: {first}") from None
    if not isinstance(data, dict):
        raise OpsbookError(f"{where}: not a MkDocs configuration (expected a mapping)")
    names, configs = _extension_list(data.get("markdown_extensions") or [], where)
    plugins, options = _plugins(data.get("plugins"), where)
    # MkDocs puts its built-ins first and drops repeats
    ordered = list(MKDOCS_BUILTINS) + [n for n in names if n not in MKDOCS_BUILTINS]
    if TECHDOCS_PLUGIN in plugins:
        _merge(ordered, configs, TECHDOCS_EXTENSIONS)
    docs = str(data.get("docs_dir") or "docs")
    return SiteFile(path, tuple(ordered), configs, options, plugins, docs)


def default() -> SiteFile:
    names, configs = _extension_list(list(DEFAULT_EXTENSIONS), "default")
    ordered = list(MKDOCS_BUILTINS) + [n for n in names if n not in MKDOCS_BUILTINS]
    return SiteFile(None, tuple(ordered), configs, {}, ())


def find(start: Path) -> Path | None:
    """The nearest mkdocs.yml at or above `start` (a file or a folder)."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for candidate in (here, *here.parents):
        if (candidate / MKDOCS_YML).is_file():
            return candidate / MKDOCS_YML
    return None
