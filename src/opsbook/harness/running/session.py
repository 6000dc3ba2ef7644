"""One shell session per page, one fresh bash process per block.

Why not a persistent bash fed through a pipe: `set -e` ("a block fails on its first
failing command") would end the session itself, and a timeout kill would take the page's
state with it. Instead every block runs as its own `bash` in its own process group
(`start_new_session`), with `set -e`, after sourcing the state the previous block left:
its working directory, exported and plain shell variables, functions and aliases. An EXIT
trap writes that state back, so `cd` and `export` carry across a page's blocks like a
reader's terminal, and a block that dies keeps the page's last good state. Measured cost:
see benchmarks/harness.py (a few ms per block).

Strict execution: `set -eo pipefail` (a failing command anywhere in a pipeline fails the
block); the state is saved and a sentinel written by lines appended *after* the block's
last line, so a block that leaves early (`exec`, `exit 0`, a signal) cannot pass; the
harness's EXIT and ERR handlers sit behind a `trap` function, so a block's own `trap - ERR`
or `trap cleanup EXIT` chains with them instead of removing them.

Console blocks get a marker printed before each `$ ` command so their combined output can
be split per command. stdout and stderr go to one file (the order a terminal shows), which
also means a background process holding the output open never blocks us; it is read back
with bounded memory (output.py). Processes a block leaves behind, however they detached,
are found and killed through the process tree (processes.py).
"""

from __future__ import annotations

import os
import select
import shlex
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from opsbook.harness.running import processes
from opsbook.harness.running.isolation import Confinement
from opsbook.harness.running.output import read_split

MARK = "\x1eopsbook-cmd-"
GRACE = 2.0  # seconds between SIGTERM and SIGKILL

# Only builtins in the save path: a fork per variable cost ~100 ms per block.
# `declare -p` re-sourced also tries to set bash's read-only variables; those errors are
# expected and silenced. Paths are literals written into each script (never taken from the
# environment), so the previous block's saved state cannot redirect this block's.
PROLOGUE = r"""__ob_save() {
  {
    printf 'cd -- %q 2>/dev/null || true\n' "$PWD"
    declare -p
    declare -f
    alias -p
  } > "$__ob_out" 2>/dev/null
}
trap() {
  # The block's traps chain with the harness's EXIT and ERR handlers instead of replacing
  # them: `trap - ERR` must not hide the failing line, `trap - EXIT` must not drop state.
  local __ob_cmd __ob_sig __ob_rest=()
  if [ "$1" = "--" ]; then shift; fi
  if [ "$#" -lt 2 ]; then builtin trap "$@"; return; fi
  __ob_cmd=$1; shift
  [ "$__ob_cmd" != "-" ] || __ob_cmd=
  for __ob_sig in "$@"; do
    case "$__ob_sig" in
      EXIT|SIGEXIT|0) __ob_user_exit=$__ob_cmd ;;
      ERR|SIGERR) __ob_user_err=$__ob_cmd ;;
      *) __ob_rest+=("$__ob_sig") ;;
    esac
  done
  if [ "${#__ob_rest[@]}" -gt 0 ]; then builtin trap -- "${__ob_cmd:--}" "${__ob_rest[@]}"; fi
}
builtin trap '__ob_rc=$?; eval "${__ob_user_exit:-}"; __ob_save; exit $__ob_rc' EXIT
builtin trap 'printf %s "$LINENO" > {err_file}; eval "${__ob_user_err:-}"' ERR
if [ -f {state_in} ]; then . {state_in} >/dev/null 2>&1 || true; fi
__ob_user_exit= __ob_user_err=
__ob_out={state_out}
set -eo pipefail
"""
# After the block's last line: only reached if the block ran to its end.
EPILOGUE = """
__ob_save
printf %s {token} > {done_file}
"""


@dataclass
class Attempt:
    exit_code: int | None  # None: killed at the timeout; negative: killed by that signal
    output: str  # combined stdout+stderr, markers removed, bounded (see output.py)
    outputs: list[str]  # per command (console blocks), in order
    last_command: int  # index of the command running when the block ended
    duration: float
    state: Path  # the state file this attempt wrote (may not exist if killed)
    err_line: int | None = None  # 1-based line in the block of the command that failed
    reached_end: bool = False  # the line after the block's last line ran


def _read_small(path: Path) -> str:
    """A short file the block's shell wrote, read without following a planted symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return ""
    try:
        return os.read(fd, 256).decode("utf-8", "replace").strip()
    finally:
        os.close(fd)


def wait_for(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """`proc.wait(timeout)`, woken by the exit itself. Popen.wait with a timeout polls
    with sleeps that grow to 50 ms; a pidfd becomes readable the moment the process
    exits (Linux 5.3+; elsewhere, the polling wait)."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return proc.wait(timeout=timeout)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(max(0, int(timeout * 1000))):
            raise subprocess.TimeoutExpired(proc.args, timeout)
    finally:
        os.close(fd)
    return proc.wait()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the block's process group, then SIGKILL what is left (nox's escalation)."""
    for sig, wait in ((signal.SIGTERM, GRACE), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            # the leader is gone; children in the group may linger: take them too
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


class PageSession:
    """Runs the blocks of one page, carrying the shell state from block to block."""

    def __init__(
        self,
        page: str,
        run_dir: Path,
        env: dict[str, str],
        confinement: Confinement,
    ) -> None:
        slug = page.replace("/", "__").replace(".", "_")
        # Scripts and output files live where only the harness writes (the block cannot
        # plant a symlink there for the harness to open); what the block's shell writes
        # (its state, the failing line, the sentinel) lives in `shared`, the runner's.
        self.dir = run_dir / "pages" / slug
        self.shared = self.dir / "shared"
        self.workdir = run_dir / "work" / slug
        self.shared.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.confinement = confinement
        self.env = dict(env)
        self.token = f"opsbook-{uuid.uuid4().hex}"
        self.state = self.shared / "state-0.sh"
        self.state.write_text(f"cd -- {shlex.quote(str(self.workdir))}\n")
        self.confinement.hand_over(self.shared, self.workdir)
        self.counter = 0
        processes.become_subreaper()
        self.started = processes.now_ticks()

    def run(self, commands: list[str], timeout: float) -> Attempt:
        """Run one block (its commands in order, `set -eo pipefail`) from the page's state."""
        self.counter += 1
        n = self.counter
        script = self.dir / f"block-{n}.sh"
        out_path = self.dir / f"block-{n}.out"
        state_out = self.shared / f"state-{n}.sh"
        err_path = self.shared / f"block-{n}.errline"
        done_path = self.shared / f"block-{n}.done"
        done_token = f"{self.token}-{n}"
        parts = [
            PROLOGUE.replace("{state_in}", shlex.quote(str(self.state)))
            .replace("{state_out}", shlex.quote(str(state_out)))
            .replace("{err_file}", shlex.quote(str(err_path)))
        ]
        body_start = parts[0].count("\n") + 1  # script line of the first command line
        for i, cmd in enumerate(commands):
            if len(commands) > 1:
                parts.append(f"printf '{MARK}%d\\n' {i}\n")
            parts.append(cmd.rstrip("\n") + "\n")
        parts.append(
            EPILOGUE.replace("{token}", done_token).replace(
                "{done_file}", shlex.quote(str(done_path))
            )
        )
        script.write_text("".join(parts))
        start = time.monotonic()
        since = processes.now_ticks()
        with open(out_path, "xb") as out:
            proc = subprocess.Popen(
                self.confinement.argv(script),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.workdir,
                start_new_session=True,
            )
            try:
                code: int | None = wait_for(proc, timeout)
            except subprocess.TimeoutExpired:
                code = None
                _kill_group(proc)
                processes.kill_started_since(since)
            except BaseException:  # Ctrl-C, SIGTERM: leave nothing running behind us
                _kill_group(proc)
                processes.kill_started_since(since)
                raise
        duration = time.monotonic() - start
        outputs, last = read_split(out_path, MARK.encode(), len(commands))
        err_line = None
        if len(commands) == 1 and code and (line := _read_small(err_path)).isdigit():
            err_line = int(line) - body_start + 1 or None
        reached = _read_small(done_path) == done_token
        return Attempt(
            code, "".join(outputs), outputs, last, duration, state_out, err_line, reached
        )

    def commit(self, attempt: Attempt) -> None:
        """The block passed: the next block starts from the state it left."""
        if attempt.state.exists():
            self.state = attempt.state

    def close(self) -> None:
        """End of page: stop everything the page's blocks left running, however detached."""
        processes.kill_started_since(self.started)
