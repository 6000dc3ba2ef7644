"""`opsbook init`: take on an existing MkDocs project, changing only what is missing.

Each step looks first and changes only what is not there yet: the plugin and superfences
in mkdocs.yml (edited as text, so the file's comments and layout stay), a starter facts/,
a sandbox compose file (or a pointer to the project's own), a noxfile and a pytest.ini.
An existing file is never overwritten without `force`; running it twice changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from opsbook import sitefile
from opsbook.errors import OpsbookError
from opsbook.project import display_path

STARTER = Path(__file__).parent / "starter"
Action = Literal["created", "updated", "kept", "overwritten"]
# Compose files a project may already run its system with, in Compose's own order
COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
PYTEST_CONFIGS = {"pytest.ini": "[pytest]", "pyproject.toml": "[tool.pytest.ini_options]",
                  "setup.cfg": "[tool:pytest]", "tox.ini": "[pytest]"}


@dataclass(frozen=True)
class Change:
    path: str  # relative to the project
    action: Action
    detail: str

    def __str__(self) -> str:
        return f"{self.action:<11} {self.path}: {self.detail}"


# -- mkdocs.yml, edited as text --------------------------------------------------------------

def _names(value: object) -> list[str]:
    if isinstance(value, dict):
        return [str(k) for k in value]
    out = []
    for item in value or []:  # type: ignore[union-attr]
        out.append(str(next(iter(item))) if isinstance(item, dict) else str(item))
    return out


def add_item(text: str, key: str, item: str, defaults: tuple[str, ...] = ()) -> str | None:
    """`text` (a mkdocs.yml) with `item` added to the top-level list or mapping `key`;
    None when it is there already. `defaults`: the items MkDocs assumes when `key` is
    absent (plugins: search), written out with it."""
    data = yaml.load(text, Loader=sitefile._Loader) or {}  # noqa: S506 - as MkDocs reads it
    if item in _names(data.get(key)):
        return None
    lines = text.split("\n")
    head = next((i for i, line in enumerate(lines) if re.match(rf"^{re.escape(key)}\s*:", line)),
                None)
    if head is None:
        block = [f"{key}:"] + [f"  - {x}" for x in (*defaults, item)]
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join([*lines, "", *block, ""])
    after = lines[head].split(":", 1)[1].strip()
    if after.startswith("[") or after.startswith("{") or (after and not after.startswith("#")):
        # a flow collection on one line: written out again as a block list
        items = [*(_names(data.get(key))), item]
        lines[head:head + 1] = [f"{key}:"] + [f"  - {x}" for x in items]
        return "\n".join(lines)
    end = head  # the last line of the key's block
    indent = "  "
    mapping = isinstance(data.get(key), dict)
    for i in range(head + 1, len(lines)):
        line = lines[i]
        if line.strip() and not line[0].isspace() and not line.startswith("-"):
            break
        if line.strip() and not line.lstrip().startswith("#"):
            if end == head:
                indent = line[: len(line) - len(line.lstrip())]
            end = i
    new = f"{indent}{item}: {{}}" if mapping else f"{indent}- {item}"
    lines.insert(end + 1, new)
    return "\n".join(lines)


def _edit_mkdocs_yml(root: Path) -> list[Change]:
    path = root / sitefile.MKDOCS_YML
    text = path.read_text(encoding="utf-8")
    changes = []
    try:
        sitefile.load(path)
    except OpsbookError as exc:
        raise OpsbookError(
            [f"{p}; fix it, then run opsbook init again" for p in exc.problems]) from None
    for key, item, defaults, why in (
        ("plugins", "opsbook", ("search",), "the opsbook plugin renders pages with the facts "
         "and shows each block's verification"),
        ("markdown_extensions", "pymdownx.superfences", (), "opsbook reads fences as "
         "superfences does: nested in lists, admonitions and tabs"),
    ):
        edited = add_item(text, key, item, defaults)
        if edited is None:
            changes.append(Change(sitefile.MKDOCS_YML, "kept", f"{key} has {item}"))
        else:
            text = edited
            changes.append(Change(sitefile.MKDOCS_YML, "updated", f"{key}: + {item} ({why})"))
    if any(c.action == "updated" for c in changes):
        path.write_text(text, encoding="utf-8")
    return changes


# -- files ---------------------------------------------------------------------------------

def _write(root: Path, rel: str, content: str, force: bool, what: str) -> Change:
    path = root / rel
    if path.exists():
        if not force or path.read_text(encoding="utf-8") == content:
            return Change(rel, "kept", f"exists ({what}); --force replaces it")
        path.write_text(content, encoding="utf-8")
        return Change(rel, "overwritten", what)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return Change(rel, "created", what)


def _facts(root: Path, force: bool) -> list[Change]:
    facts = root / "facts"
    if facts.is_dir() and any(facts.glob("*.yml")) and not force:
        return [Change("facts/", "kept", "exists; --force replaces the starter files in it")]
    return [
        _write(root, f"facts/{src.name}", src.read_text(encoding="utf-8"), force,
               "starter facts: replace them with your platform's")
        for src in sorted((STARTER / "facts").glob("*.yml"))
    ]


def _sandbox(root: Path, force: bool) -> Change:
    own = next((n for n in COMPOSE_NAMES if (root / n).is_file()), None)
    if own is not None:
        content = (
            "# opsbook's sandbox: the system your runbooks operate, brought up with\n"
            "# `opsbook sandbox up`. This points at the project's own compose file.\n"
            f"include:\n  - ../{own}\n"
        )
        return _write(root, "sandbox/compose.yaml", content, force, f"includes ../{own}")
    content = (
        "# opsbook's sandbox: the system your runbooks operate, brought up with\n"
        "# `opsbook sandbox up`, every shell block of the site run against it. A starter:\n"
        "# replace the service with yours. Publish ports on 127.0.0.1 only.\n"
        "services:\n"
        "  web:\n"
        "    image: nginx:stable-alpine\n"
        "    ports:\n"
        '      - "127.0.0.1:18080:80"\n'
        "    healthcheck:\n"
        '      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]\n'
        "      interval: 2s\n"
    )
    return _write(root, "sandbox/compose.yaml", content, force, "a starter sandbox")


NOXFILE = '''"""Docs as code (added by `opsbook init`): nox -s docs blocks, nox -s docs_verify."""

import nox


@nox.session(venv_backend="none")
def docs(session: nox.Session) -> None:
    """Build the site strictly: zero warnings."""
    session.run("mkdocs", "build", "--strict")


@nox.session(venv_backend="none")
def blocks(session: nox.Session) -> None:
    """List every shell block with what would run, and every problem (exit 1 on any)."""
    session.run("opsbook", "blocks", "list")


@nox.session(venv_backend="none")
def docs_verify(session: nox.Session) -> None:
    """Every shell block of the adopted pages as a pytest item, run against the sandbox."""
    session.run("pytest", "--opsbook", "--opsbook-sandbox", *session.posargs)
'''

PYTEST_INI = """[pytest]
# `pytest --opsbook --opsbook-sandbox` (added by `opsbook init`): every shell block of the
# site's adopted pages is a test item, page.md:LINE, run against the sandbox.
addopts = -ra
"""


def _pytest(root: Path, force: bool) -> Change:
    for name, section in PYTEST_CONFIGS.items():
        path = root / name
        if name != "pytest.ini" and path.is_file() and section in path.read_text(
                encoding="utf-8", errors="replace"):
            return Change(name, "kept", f"has {section}; run `pytest --opsbook --opsbook-sandbox`")
    return _write(root, "pytest.ini", PYTEST_INI, force, "pytest --opsbook runs the blocks")


def init_project(root: Path, force: bool = False) -> list[Change]:
    """Take on the MkDocs project at `root`; every change made (or not) and why."""
    if not (root / sitefile.MKDOCS_YML).is_file():
        raise OpsbookError(f"{display_path(root)}: no mkdocs.yml here; run opsbook init in "
                           "an MkDocs project (or create one with `mkdocs new .`)")
    changes = _edit_mkdocs_yml(root)
    changes += _facts(root, force)
    changes.append(_sandbox(root, force))
    changes.append(_write(root, "noxfile.py", NOXFILE, force, "sessions docs, blocks, "
                          "docs_verify"))
    changes.append(_pytest(root, force))
    if not (root / "snippets").exists():
        (root / "snippets").mkdir()
        changes.append(Change("snippets/", "created", "command snippets shared by pages"))
    return changes
