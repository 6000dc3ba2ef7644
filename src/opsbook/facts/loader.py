"""Load facts/*.yml, remember where every key was written, and validate the merge.

Every problem (YAML syntax, a key defined twice, a schema violation) becomes one line
`file:line: key.path: message`, and all of them are reported together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from opsbook.errors import OpsbookError
from opsbook.facts.model import Facts
from opsbook.project import display_path

KeyPath = tuple[str | int, ...]

# libyaml's parser where PyYAML was built with it: facts load on every (re)build.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Location:
    file: Path
    line: int  # 1-based

    def __str__(self) -> str:
        return f"{display_path(self.file)}:{self.line}"


class FactsError(OpsbookError):
    """The facts are invalid; `problems` holds one line per problem."""


def fact_files(facts_dir: Path) -> list[Path]:
    return sorted([*facts_dir.glob("*.yml"), *facts_dir.glob("*.yaml")])


def load_facts(facts_dir: Path) -> Facts:
    """Read, merge and validate every facts file, or raise FactsError listing all problems."""
    facts_dir = Path(facts_dir)
    files = fact_files(facts_dir)
    if not files:
        raise FactsError(f"{display_path(facts_dir)}: no *.yml facts files found")

    merged: dict[str, Any] = {}
    where: dict[KeyPath, Location] = {}
    problems: list[str] = []
    for path in files:
        try:
            node = yaml.compose(path.read_text(encoding="utf-8"), Loader=_Loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            problems.append(f"{display_path(path)}:{line}: YAML syntax error: {exc.problem}")
            continue
        if node is None:
            continue
        if not isinstance(node, yaml.MappingNode):
            problems.append(
                f"{display_path(path)}:{node.start_mark.line + 1}: a facts file must be a "
                "mapping of top-level keys (for example `thresholds:`)"
            )
            continue
        problems += _index(node, (), path, where)
        # Build the values from the same node tree: the file is parsed once.
        data = yaml.constructor.SafeConstructor().construct_document(node)
        for key, value in data.items():
            if key in merged:
                problems.append(
                    f"{Location(path, where[(key,)].line)}: {key}: already defined at "
                    f"{where.get(('__first__', key), '?')}; each top-level key lives in one file"
                )
                continue
            merged[key] = value
            where[("__first__", key)] = where[(key,)]

    unreadable = bool(problems)
    try:
        facts = Facts.model_validate(merged)
    except ValidationError as exc:
        for err in exc.errors():
            # A file that failed to parse leaves its top-level keys missing; saying so
            # again would bury the real problem.
            if unreadable and err["type"] == "missing" and len(err["loc"]) == 1:
                continue
            problems.append(_describe(err, where, facts_dir))
    if problems:
        raise FactsError(problems)
    return facts


def _index(node: yaml.Node, path: KeyPath, file: Path, where: dict[KeyPath, Location]) -> list[str]:
    """Record the line of every key and list item; report keys repeated in one mapping."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                dotted = _dotted((*path, key))
                problems.append(
                    f"{display_path(file)}:{line}: {dotted}: key repeated in the same mapping"
                )
            seen.add(key)
            where[(*path, key)] = Location(file, line)
            problems += _index(value_node, (*path, key), file, where)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            where[(*path, i)] = Location(file, item.start_mark.line + 1)
            problems += _index(item, (*path, i), file, where)
    return problems


def _describe(err: dict[str, Any], where: dict[KeyPath, Location], facts_dir: Path) -> str:
    loc: list[str | int] = [p for p in err["loc"] if not _is_union_tag(p)]
    extra = (err.get("ctx") or {}).get("field")
    if extra:
        loc += [int(p) if p.isdigit() else p for p in str(extra).split(".")]
    message = _message(err)
    location = _nearest(tuple(loc), where)
    prefix = str(location) if location else display_path(facts_dir)
    return f"{prefix}: {_dotted(tuple(loc)) or '(top level)'}: {message}"


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    got = err.get("input")
    if kind == "extra_forbidden":
        return "unknown key (check its spelling against the schema in src/opsbook/facts/model.py)"
    if kind == "missing":
        return "required key is missing"
    if kind.endswith("_type") or kind in {"int_from_float", "float_parsing", "int_parsing"}:
        return f"{err['msg'].lower()}, got {type(got).__name__} {got!r}"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "string_pattern_mismatch"}:
        return f"{err['msg'].lower()}, got {got!r}"
    return err["msg"].removeprefix("Value error, ")


def _nearest(loc: KeyPath, where: dict[KeyPath, Location]) -> Location | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in where:
            return where[loc[:end]]
    return None


def _is_union_tag(part: str | int) -> bool:
    # pydantic adds the union member or validator name into loc (e.g. "str", "function-after")
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _dotted(loc: KeyPath) -> str:
    return ".".join(str(p) for p in loc)
