"""Find and end every process a page's blocks started, however it left the block's shell.

A block can leave processes behind that its process group does not hold: `setsid cmd &`
starts a new session, a double fork orphans its child, `env -i` clears the environment
(so no token in it survives). The harness makes itself a *child subreaper*
(prctl PR_SET_CHILD_SUBREAPER): orphans of its descendants are re-parented to it instead
of to init, so every process a block started stays a descendant of the harness until it
ends. At the end of a page we walk /proc for descendants started since the page began,
kill them, and reap the ones that became our children.

Rejected alternative: a token in the environment (`/proc/PID/environ`), which `env -i`
and `setsid env -i` defeat. A PID namespace would also work but needs privileges or user
namespaces and breaks `docker` and port access for the blocks.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_subreaper = False


def become_subreaper() -> bool:
    """Make this process the subreaper of its descendants (Linux); idempotent."""
    global _subreaper
    if not _subreaper:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        except (OSError, AttributeError):
            _subreaper = False
    return _subreaper


def now_ticks() -> int:
    """Now, in the clock ticks since boot that /proc/PID/stat's start times use."""
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return int(uptime * CLOCK_TICKS)


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in ticks) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19])


def descendants(root: int, since_ticks: int = 0) -> list[int]:
    """Processes below `root` in the process tree that started at or after `since_ticks`."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        info = _stat(int(entry.name))
        if info is None:
            continue
        children.setdefault(info[0], []).append(int(entry.name))
        started[int(entry.name)] = info[1]
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if started.get(pid, -1) >= since_ticks:
            found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def kill_started_since(since_ticks: int, rounds: int = 5) -> list[int]:
    """SIGKILL every descendant of this process started since `since_ticks`; reap them.

    Several rounds, because killing a parent re-parents its children to us in between.
    Returns the pids killed.
    """
    me = os.getpid()
    killed: list[int] = []
    for _ in range(rounds):
        pids = descendants(me, since_ticks)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        time.sleep(0.02)
        reap(pids)
    return killed


def reap(pids: list[int]) -> None:
    """Collect the exit status of those of `pids` that are our children (no zombies left).

    Never `waitpid(-1)`: that could steal the status of a child `subprocess` waits for.
    """
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
