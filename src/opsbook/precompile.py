"""Compile a cold build's templates in a forked child, beside MkDocs' own start-up.

A cold build (a fresh clone in CI, or every template edited) spends most of its render
time compiling templates, about 5 ms each, one after the other, while the second core
idles. `Precompiler.start` forks: the child compiles every template it is given and sends
each code object back through a pipe (marshal, as Jinja's own bytecode cache stores it);
meanwhile the parent reads the theme, builds the nav and converts pages, and `take`s each
template's code when it first renders it. Anything the child does not send (a syntax
error, a crash, a platform without fork) the parent compiles itself, so errors read
exactly as they do without a child.

    Precompiler.start(compile, [(digest, source, name, filename), ...]) -> Precompiler | None
    take(digest) -> code | None          close()

Only in a single-threaded process: forking one with threads (`mkdocs serve` runs its
server in one) can leave the child holding a lock nobody will release; those rebuilds
are warm anyway. Measured in benchmarks/scale.py (plugin build over plain Material, cold).
"""

from __future__ import annotations

import contextlib
import fcntl
import marshal
import os
import select
import signal
import struct
import threading
import time
from collections.abc import Callable, Sequence
from types import CodeType

# Below this many templates to compile, the fork costs about what it saves.
MIN_TEMPLATES = 3
WAIT = 30.0  # s: the longest the parent waits for one template before compiling it itself
PIPE_SIZE = 1 << 20  # bytes; a compiled page is 10-50 KB
_HEADER = struct.Struct("!I")

Job = tuple[str, str, str, str | None]  # (source digest, source, name, filename)
Compile = Callable[[str, str, str | None], CodeType]  # (source, name, filename) -> code


class Precompiler:
    def __init__(self, pid: int, fd: int, pending: set[str]) -> None:
        self.pid = pid
        self.fd = fd
        self.pending = pending  # digests the child will still send
        self.ready: dict[str, CodeType] = {}
        self._buffer = b""

    @classmethod
    def start(cls, compile: Compile, jobs: Sequence[Job]) -> Precompiler | None:
        """A child compiling `jobs`, or None when forking would not pay or is unsafe."""
        if len(jobs) < MIN_TEMPLATES or not hasattr(os, "fork"):
            return None
        if threading.active_count() > 1:
            return None
        read, write = os.pipe()
        if hasattr(fcntl, "F_SETPIPE_SZ"):  # room for a site's code: the child rarely waits
            # above the system's limit the default size stays: it only slows the child
            with contextlib.suppress(OSError):
                fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        pid = os.fork()
        if pid == 0:  # the child: compile, send, and leave without running any cleanup
            status = 1
            try:
                os.close(read)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _compile_all(compile, jobs, write)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        return cls(pid, read, {digest for digest, *_ in jobs})

    def take(self, digest: str) -> CodeType | None:
        """The code the child compiled for this source, waiting for it if the child has
        not sent it yet; None when the child will not (the caller compiles)."""
        deadline = time.monotonic() + WAIT
        while self.fd >= 0:
            waiting = digest not in self.ready and digest in self.pending
            # read what has arrived, and block only for the template asked for
            left = max(0.0, deadline - time.monotonic()) if waiting else 0.0
            if not select.select([self.fd], [], [], left)[0]:
                if waiting:
                    self.close()  # a stuck child: stop it, compile here
                break
            chunk = os.read(self.fd, PIPE_SIZE)
            if not chunk:  # the child is done (or died): what it did not send, we compile
                self.close()
                break
            self._receive(chunk)
        return self.ready.pop(digest, None)

    def _receive(self, chunk: bytes) -> None:
        self._buffer += chunk
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                return
            digest, code = marshal.loads(self._buffer[_HEADER.size:end])
            self._buffer = self._buffer[end:]
            self.pending.discard(digest)
            if code is not None:  # None: it did not compile; the parent reports why
                self.ready[digest] = code

    def close(self) -> None:
        """Stop reading, end the child if it still runs, and reap it."""
        if self.fd < 0:
            return
        os.close(self.fd)
        self.fd = -1
        self.pending.clear()
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid == 0:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass


def _compile_all(compile: Compile, jobs: Sequence[Job], fd: int) -> None:
    for digest, source, name, filename in jobs:
        try:
            code: CodeType | None = compile(source, name, filename)
        except Exception:  # noqa: BLE001 - the parent compiles it again and reports it
            code = None
        data = marshal.dumps((digest, code))
        _write_all(fd, _HEADER.pack(len(data)) + data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
