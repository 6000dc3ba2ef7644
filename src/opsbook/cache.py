"""On-disk caches under .opsbook/: small files, one per page, each checked before use.

    DiskCache(file).get(name, key) -> payload | None     put(name, key, payload)   flush()

An entry is filed under what it is for (a page, say) with the full key of what produced
it: everything the payload depends on, digested. A lookup whose key differs is a miss, and
the next `put` replaces the entry, so a cache holds one entry per name and never grows
with edits. A file that cannot be read or is damaged is a miss, never an error: a cache
only ever saves time. Writes go to a temporary file renamed into place, so a reader
(another process: `opsbook test -j`, `mkdocs serve`) sees a whole file; two writers at
once lose one's new entries, which costs a miss, not a wrong answer.

Keys always include `code_digest()`: opsbook's own source, so an edited checkout (an
editable install keeps its version number) never reads entries its old code wrote.
`OPSBOOK_NO_CACHE=1` turns every cache off.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import pickle
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

NO_CACHE = "OPSBOOK_NO_CACHE"


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a loop builds many small objects that form
    no cycles (pages read or loaded from a cache): it would otherwise run over them again
    and again, which costs as much as loading them."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


@cache
def code_digest() -> str:
    """opsbook's source files and the versions of what reading and rendering run on."""
    from importlib.metadata import PackageNotFoundError, version

    root = Path(__file__).resolve().parent
    h = hashlib.sha256(sys.version.encode())
    for dist in ("jinja2", "markdown", "pymdown-extensions", "pydantic"):
        try:
            h.update(f"{dist}={version(dist)}\0".encode())
        except PackageNotFoundError:
            h.update(f"{dist}=none\0".encode())
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


@cache
def _file_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def stable(value: Any) -> Any:
    """`value` as JSON-able data that is equal across processes: mappings sorted, and
    functions or objects (a `!!python/name:` fence validator in mkdocs.yml) named by
    module and qualified name, with a digest of their module's file, so editing that
    code changes the key."""
    if isinstance(value, dict):
        return [[str(k), stable(v)] for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))]
    if isinstance(value, (list, tuple)):
        return [stable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    target = value if callable(value) else type(value)
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__qualname__", None) or repr(type(value))
    file = getattr(sys.modules.get(module), "__file__", None)
    state = "" if callable(value) else repr(sorted(vars(value).items())) if hasattr(
        value, "__dict__") else ""
    return f"<{module}.{name}@{_file_digest(file) if file else 'builtin'}{state}>"


def stable_json(value: Any) -> str:
    return json.dumps(stable(value), separators=(",", ":"))


class DiskCache:
    """One file of entries (`name -> (key, payload)`), read at the first lookup and written
    back by `flush()` when something was added: one file, not one per page, because
    creating a thousand small files costs more than the work they save. `None` path or
    OPSBOOK_NO_CACHE: every lookup misses and nothing is written."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if os.environ.get(NO_CACHE, "") not in ("", "0"):
            self.path = None
        self._entries: dict[str, tuple[str, bytes]] | None = None
        self._dirty = False

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def _load(self) -> dict[str, tuple[str, bytes]]:
        if self._entries is None:
            self._entries = {}
            if self.path is not None:
                try:
                    data = pickle.loads(self.path.read_bytes())  # noqa: S301 - our own file
                    if isinstance(data, dict):
                        self._entries = data
                except Exception:  # noqa: BLE001 - missing or damaged: start empty
                    pass
        return self._entries

    def get(self, name: str, key: str) -> bytes | None:
        if self.path is None:
            return None
        entry = self._load().get(name)
        if not isinstance(entry, tuple) or len(entry) != 2 or entry[0] != key:
            return None
        payload = entry[1]
        return payload if isinstance(payload, bytes) else None

    def put(self, name: str, key: str, payload: bytes) -> None:
        if self.path is None:
            return
        self._load()[name] = (key, payload)
        self._dirty = True

    def flush(self) -> None:
        """Write the entries if any changed: to a temporary file renamed into place, so a
        reader sees the old file or the new one, whole."""
        if self.path is None or not self._dirty or self._entries is None:
            return
        self._dirty = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}-")
            try:
                with os.fdopen(fd, "wb") as f:
                    pickle.dump(self._entries, f, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass  # a read-only checkout or a full disk: the cache is only a shortcut
