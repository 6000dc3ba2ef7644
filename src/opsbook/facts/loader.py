"""Load facts/*.yml, remember where every key was written, and validate the merge.

Every problem (an unreadable file, YAML syntax, a key defined twice, a schema violation)
becomes one line `file:line: key.path: message`, and all of them are reported together.
No facts file, however malformed, gets further than that: not binary junk, not tags that
would run code, not aliases that expand to billions of values, not nesting deep enough to
overflow a stack.

Values are built straight from libyaml's event stream (one pass, no recursion), which is
what lets the loader count alias expansions and nesting depth as it goes, give every
value its key path, and accept nothing but plain YAML: strings, numbers, booleans, nulls,
dates, lists and mappings with string keys.
"""

from __future__ import annotations

import reprlib
import stat
from dataclasses import dataclass, field
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
# libyaml reports reader errors at a byte offset into the UTF-8 text, PyYAML's own
# reader at a character offset.
_BYTE_OFFSETS = _Loader is not yaml.SafeLoader

# Values that aliases may add to one file. Real facts use a handful of aliases, if any;
# a "billion laughs" file of a few hundred bytes asks for billions.
MAX_ALIAS_VALUES = 10_000
# Facts nest four or five levels deep. libyaml's own composer recurses in C and crashes
# the interpreter somewhere past ten thousand levels; this loader never recurses, but
# nothing that deep is a fact.
MAX_DEPTH = 100

_YAML = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _MERGE = (f"{_YAML}{t}" for t in ("str", "map", "seq", "merge"))
_SCALARS = {
    f"{_YAML}{name}": getattr(yaml.constructor.SafeConstructor, f"construct_yaml_{name}")
    for name in ("null", "bool", "int", "float", "binary", "timestamp")
}
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 60


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
    first: dict[str, Location] = {}
    where: dict[KeyPath, Location] = {}
    broken: set[KeyPath] = set()  # values already reported; schema errors under them are noise
    raw: dict[KeyPath, str] = {}  # plain scalars YAML read as something other than a string
    problems: list[str] = []
    unreadable = False
    for path in files:
        doc = _read(path)
        problems += doc.problems
        if not isinstance(doc.value, dict):
            unreadable = True
            continue
        accepted = set()
        for key, value in doc.value.items():
            if key in merged:
                problems.append(
                    f"{doc.where[(key,)]}: {_dotted((key,))}: already defined at {first[key]}; "
                    "each top-level key lives in one file"
                )
                continue
            merged[key] = value
            first[key] = doc.where[(key,)]
            accepted.add(key)
        where.update((p, loc) for p, loc in doc.where.items() if p[0] in accepted)
        broken.update(p for p in doc.broken if p and p[0] in accepted)
        raw.update((p, text) for p, text in doc.raw.items() if p[0] in accepted)

    unreadable = unreadable or bool(problems)
    try:
        facts = Facts.model_validate(merged)
    except ValidationError as exc:
        for err in exc.errors():
            loc = _loc(err)
            # A file that failed to parse leaves its top-level keys missing; saying so
            # again would bury the real problem. So would re-reporting a broken value.
            if unreadable and err["type"] == "missing" and len(loc) == 1:
                continue
            if any(loc[:end] in broken for end in range(1, len(loc) + 1)):
                continue
            problems.append(_describe(err, loc, where, raw, facts_dir))
    if problems:
        # one line each, whatever a key or value holds
        raise FactsError([" ".join(p.splitlines()) for p in problems])
    # the sandbox instance this process works on (0 unless OPSBOOK_SANDBOX_INSTANCE says)
    from opsbook.facts.instances import for_instance, instance_from_env

    return for_instance(facts, instance_from_env(facts))


@dataclass
class _Document:
    """One facts file as read: its value (None if unusable), where each key was, problems."""

    file: Path
    value: Any = None
    where: dict[KeyPath, Location] = field(default_factory=dict)
    broken: set[KeyPath] = field(default_factory=set)
    raw: dict[KeyPath, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def problem(self, line: int, path: KeyPath | None, message: str) -> None:
        dotted = _dotted(path[:8]) + (".(...)" if len(path) > 8 else "") if path else ""
        prefix = f"{display_path(self.file)}:{line}: "
        self.problems.append(f"{prefix}{dotted}: {message}" if dotted else prefix + message)


class _Fatal(Exception):
    """The rest of the file cannot be read; the problem is already recorded."""


def _read(file: Path) -> _Document:
    doc = _Document(file)
    try:
        mode = file.stat().st_mode
        if stat.S_ISDIR(mode):
            doc.problem(1, None, "is a directory, not a facts file; facts/*.yml must be files")
            return doc
        if not stat.S_ISREG(mode):
            doc.problem(1, None, "not a regular file; facts/*.yml must be plain text files")
            return doc
        data = file.read_bytes()
    except OSError as exc:
        doc.problem(1, None, f"cannot read the file: {exc.strerror or exc}")
        return doc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        doc.problem(
            line, None,
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column}); "
            "facts files are UTF-8 text",
        )
        return doc
    builder = None
    try:
        builder = _Builder(doc, _Loader(text))
        root = builder.run()
    except _Fatal:
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "cannot parse"
        doc.problem(mark.line + 1 if mark else 1, None, f"YAML syntax error: {problem}")
        return doc
    except yaml.reader.ReaderError as exc:
        # a character YAML does not allow (NUL, escape, DEL, ...)
        at = exc.position
        if _BYTE_OFFSETS:
            line = data.count(b"\n", 0, at) + 1
            char = data[at : at + 4].decode("utf-8", "ignore")[:1]
        else:
            line = text.count("\n", 0, at) + 1
            char = text[at : at + 1]
        problem = (f"unacceptable character #x{ord(char):04x}: control characters are not "
                   "allowed" if char else _first_line(exc))
        doc.problem(line, None, f"YAML syntax error: {problem}")
        return doc
    except yaml.YAMLError as exc:
        doc.problem(1, None, f"YAML syntax error: {str(exc).splitlines()[0]}")
        return doc
    finally:
        if builder is not None:
            builder.loader.dispose()

    if root is _NOTHING or builder.root_is_empty:
        doc.problem(1, None, "file is empty (no top-level keys, only comments or blank "
                             "lines); give it a key such as `thresholds:` or delete it")
    elif not isinstance(root, dict):
        doc.problem(1, None, "a facts file must be a mapping of top-level keys "
                             "(for example `thresholds:`)")
    else:
        doc.value = root
    return doc


_NOTHING: Any = object()  # no document / no key read yet
_BAD_KEY: Any = object()  # the key was reported; its value is read and dropped
_REPORTED: Any = object()  # a key that is already reported


class _Frame:
    """A mapping or sequence being built."""

    __slots__ = ("anchor", "bad_tag", "key", "key_line", "line", "merges", "path", "size_at",
                 "value")

    def __init__(self, value: dict | list, path: KeyPath | None, line: int, anchor: str | None,
                 size_at: int, bad_tag: str | None) -> None:
        self.value = value
        self.path = path  # None inside a key, a merge or a dropped value: nothing to record
        self.line = line
        self.anchor = anchor
        self.size_at = size_at
        self.bad_tag = bad_tag
        self.key: Any = _NOTHING  # mappings: the key whose value comes next
        self.key_line = 0
        self.merges: list[tuple[Any, int]] = []  # `<<: *base` values and their lines


class _Builder:
    """Plain Python values from libyaml's events, without recursion."""

    def __init__(self, doc: _Document, loader: Any) -> None:
        self.doc = doc
        self.loader = loader
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int] | None] = {}  # None: still being built
        self.size = 0  # values so far, each alias counted as everything it repeats
        self.aliased = 0  # of which repeated by aliases
        self.root: Any = _NOTHING
        self.root_is_empty = False  # `---` and nothing else

    def run(self) -> Any:
        get_event = self.loader.get_event
        documents = 0
        while True:
            event = get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                self.scalar(event)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                self.start(event, kind is yaml.MappingStartEvent)
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                self.end()
            elif kind is yaml.AliasEvent:
                self.alias(event)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    self.fatal(_line(event), None, "a second YAML document (`---`) in one "
                                                   "facts file; keep one document per file")
            elif kind is yaml.StreamEndEvent:
                return self.root

    # -- nodes -------------------------------------------------------------------------

    def scalar(self, event: yaml.ScalarEvent) -> None:
        path = self.path_of(event)
        self.size += 1
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag in (_STR, _MERGE):
            value: Any = event.value
        elif tag in _SCALARS:
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark)
            try:
                value = _SCALARS[tag](self.loader, node)
            except (ValueError, OverflowError, yaml.YAMLError) as exc:
                value = self.bad(_line(event), path, f"cannot read {_SHORT.repr(event.value)} "
                                                     f"as {_show_tag(tag)}: {_first_line(exc)}")
            else:
                if path is not None and event.implicit[0] and event.tag is None:
                    self.doc.raw[path] = event.value
        else:
            value = self.bad(_line(event), path, _unknown_tag(tag))
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        self.add(value, event)

    def alias(self, event: yaml.AliasEvent) -> None:
        path = self.path_of(event)
        target = self.anchors.get(event.anchor, _NOTHING)
        if target is _NOTHING:
            value = self.bad(_line(event), path, f"alias *{event.anchor} has no anchor "
                                                 f"&{event.anchor} before it")
        elif target is None:
            value = self.bad(_line(event), path, f"alias *{event.anchor} is inside the value "
                                                 "it refers to; a value cannot contain itself")
        else:
            value, size = target
            self.size += size
            self.aliased += size
            if self.aliased > MAX_ALIAS_VALUES:
                self.fatal(_line(event), path, f"aliases expand this file to more than "
                                               f"{MAX_ALIAS_VALUES} values (an alias bomb?); "
                                               "write the values out instead")
        self.add(value, event)

    def start(self, event: yaml.CollectionStartEvent, mapping: bool) -> None:
        path = self.path_of(event)
        if len(self.stack) >= MAX_DEPTH:
            self.fatal(_line(event), path, f"lists and mappings nested more than {MAX_DEPTH} "
                                           "levels deep")
        tag = event.tag
        bad_tag = None if tag is None or tag == "!" or tag == (_MAP if mapping else _SEQ) else tag
        if event.anchor is not None:
            self.anchors[event.anchor] = None
        self.stack.append(_Frame({} if mapping else [], path, _line(event), event.anchor,
                                 self.size, bad_tag))
        self.size += 1

    def end(self) -> None:
        frame = self.stack.pop()
        value = frame.value
        if frame.merges:
            value = self.merge(frame)
        if frame.bad_tag is not None:
            value = self.bad(frame.line, frame.path, _unknown_tag(frame.bad_tag))
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (value, self.size - frame.size_at)
        self.add(value, None)

    # -- placing values ------------------------------------------------------------------

    def path_of(self, event: yaml.Event) -> KeyPath | None:
        """The key path of the value `event` starts; records where it is."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.value, list):
            if top.path is None:
                return None
            path = (*top.path, len(top.value))
            self.doc.where[path] = Location(self.doc.file, _line(event))
            return path
        if top.key is _NOTHING:
            top.key_line = _line(event)
            return None  # a key
        if top.path is None or top.key is _BAD_KEY or top.key is _MERGE:
            return None  # a dropped value, or a merge (its keys land in the parent)
        return (*top.path, top.key)

    def add(self, value: Any, event: yaml.Event | None) -> None:
        if not self.stack:
            self.root = value
            self.root_is_empty = isinstance(event, yaml.ScalarEvent) and event.value == ""
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        elif top.key is _NOTHING:
            self.key(top, value, event)
        else:
            if top.key is _MERGE:
                top.merges.append((value, top.key_line))
            elif top.key is not _BAD_KEY:
                top.value[top.key] = value
            top.key = _NOTHING

    def key(self, top: _Frame, key: Any, event: yaml.Event | None) -> None:
        line = top.key_line
        plain = isinstance(event, yaml.ScalarEvent) and event.implicit[0] and event.tag is None
        if plain and key == "<<":
            top.key = _MERGE
            return
        if not isinstance(key, str):
            top.key = _BAD_KEY
            if key is _REPORTED:
                return
            if isinstance(key, dict | list):
                message = "a list or mapping cannot be a key; keys are plain strings"
            else:
                shown = event.value if isinstance(event, yaml.ScalarEvent) else repr(key)
                message = (f"key {shown} reads as {_yaml_type(key)}; keys are strings: "
                           f'write it in quotes: "{shown}"')
            self.report(line, top.path, message)
            return
        top.key = key
        path = top.path
        if path is None:
            return
        if key in top.value:
            self.doc.problem(line, (*path, key), "key repeated in the same mapping")
        self.doc.where[(*path, key)] = Location(self.doc.file, line)

    def merge(self, frame: _Frame) -> dict:
        """`<<: *base` (or `<<: [*a, *b]`): explicit keys win, then earlier merges."""
        merged: dict = {}
        for value, line in reversed(frame.merges):
            sources = value if isinstance(value, list) else [value]
            for source in reversed(sources):
                if not isinstance(source, dict):
                    self.report(line, frame.path, "`<<` merges mappings (`<<: *name`) only")
                    continue
                for key in source:
                    if frame.path is not None and key not in frame.value:
                        self.doc.where[(*frame.path, key)] = Location(self.doc.file, line)
                merged.update(source)
        merged.update(frame.value)
        return merged

    # -- problems ------------------------------------------------------------------------

    def bad(self, line: int, path: KeyPath | None, message: str) -> Any:
        """Report a value that cannot be used: it reads as None and is not checked again."""
        self.report(line, path, message)
        if path is not None:
            self.doc.broken.add(path)
            return None
        top = self.stack[-1] if self.stack else None
        is_key = top is not None and isinstance(top.value, dict) and top.key is _NOTHING
        return _REPORTED if is_key else None

    def fatal(self, line: int, path: KeyPath | None, message: str) -> None:
        self.report(line, path, message)
        raise _Fatal

    def report(self, line: int, path: KeyPath | None, message: str) -> None:
        if path is None:  # inside a key or a merge: name the nearest key that has a path
            path = next((f.path for f in reversed(self.stack) if f.path is not None), ())
        self.doc.problem(line, path, message)


def _line(event: yaml.Event) -> int:
    return event.start_mark.line + 1


def _unknown_tag(tag: str) -> str:
    return (f"unknown YAML tag {_show_tag(tag)}: facts are plain YAML (strings, numbers, "
            "true/false, lists and mappings) without tags")


def _show_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag


def _yaml_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return f"{'an' if type(value).__name__[0] in 'aeiou' else 'a'} {type(value).__name__}"


def _first_line(exc: BaseException) -> str:
    # the first sentence: "Exceeds the limit (4300 digits) ...; use sys.set_int_max_..."
    lines = str(exc).splitlines()
    return lines[0].split("; ")[0] if lines else type(exc).__name__


# -- schema errors -------------------------------------------------------------------------


def _loc(err: dict[str, Any]) -> KeyPath:
    loc: list[str | int] = [p for p in err["loc"] if not _is_union_tag(p)]
    extra = (err.get("ctx") or {}).get("field")
    if extra:
        loc += [int(p) if p.isdigit() else p for p in str(extra).split(".")]
    return tuple(loc)


def _describe(err: dict[str, Any], loc: KeyPath, where: dict[KeyPath, Location],
              raw: dict[KeyPath, str], facts_dir: Path) -> str:
    message = _message(err)
    if loc in raw and err["type"] == "string_type":
        message += _quote_hint(raw[loc], err.get("input"))
    location = _nearest(loc, where)
    prefix = str(location) if location else display_path(facts_dir)
    return f"{prefix}: {_dotted(loc) or '(top level)'}: {message}"


def _quote_hint(text: str, value: Any) -> str:
    if ":" in text and isinstance(value, int | float) and not isinstance(value, bool):
        # YAML 1.1 reads 10:00 as a base-60 number (600)
        return f'; YAML reads {text} as the number {value}: write times in quotes: "{text}"'
    return f'; write it in quotes: "{text}"'


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    got = err.get("input")
    if kind == "extra_forbidden":
        return "unknown key (check its spelling against the schema in src/opsbook/facts/model.py)"
    if kind == "missing":
        return "required key is missing"
    if kind.endswith("_type") or kind in {"int_from_float", "float_parsing", "int_parsing"}:
        return f"{err['msg'].lower()}, got {type(got).__name__} {_SHORT.repr(got)}"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than",
                "string_pattern_mismatch", "finite_number"}:
        return f"{err['msg'].lower()}, got {_SHORT.repr(got)}"
    return err["msg"].removeprefix("Value error, ")


def _nearest(loc: KeyPath, where: dict[KeyPath, Location]) -> Location | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in where:
            return where[loc[:end]]
    return None


def _is_union_tag(part: str | int) -> bool:
    # pydantic adds the union member, validator name or "[key]" into loc
    # (e.g. "str", "function-after[...]", "[key]")
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _dotted(loc: KeyPath) -> str:
    return ".".join(_part(p) for p in loc)


def _part(part: str | int) -> str:
    # a key that is empty or holds a newline or a control character is shown quoted
    if isinstance(part, int) or (part and part.isprintable()):
        return str(part)
    return repr(part)
