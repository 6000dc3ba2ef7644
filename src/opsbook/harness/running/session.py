"""One shell session per page, one fresh bash process per block.

Why not a persistent bash fed through a pipe: `set -e` ("a block fails on its first
failing command") would end the session itself, and a timeout kill would take the page's
state with it. Instead every block runs as its own `bash` in its own process group
(`start_new_session`), with `set -e`, after sourcing the state the previous block left:
its working directory, exported and plain shell variables, functions and aliases. An EXIT
trap writes that state back, so `cd` and `export` carry across a page's blocks like a
reader's terminal, and a block that dies keeps the page's last good state. Measured cost:
see benchmarks/harness.py (a few ms per block).

Console blocks get a marker printed before each `$ ` command so their combined output can
be split per command. stdout and stderr go to one file (the order a terminal shows), which
also means a background process holding the output open never blocks us.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

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
trap '__ob_rc=$?; __ob_save; exit $__ob_rc' EXIT
trap 'printf %s "$LINENO" > {err_file}' ERR
if [ -f {state_in} ]; then . {state_in} >/dev/null 2>&1 || true; fi
__ob_out={state_out}
export OPSBOOK_BLOCK={token}
set -e
"""


@dataclass
class Attempt:
    exit_code: int | None  # None: killed at the timeout
    output: str  # combined stdout+stderr, markers removed
    outputs: list[str]  # per command (console blocks), in order
    last_command: int  # index of the command running when the block ended
    duration: float
    state: Path  # the state file this attempt wrote (may not exist if killed)
    err_line: int | None = None  # 1-based line in the block of the command that failed


def _kill_tagged(token: str) -> None:
    """Kill every process carrying our token in its environment (escaped setsid children)."""
    needle = token.encode()
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit() or int(pid_dir.name) == os.getpid():
            continue
        try:
            if needle in (pid_dir / "environ").read_bytes():
                os.kill(int(pid_dir.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


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

    def __init__(self, page: str, run_dir: Path, env: dict[str, str]) -> None:
        slug = page.replace("/", "__").replace(".", "_")
        self.dir = run_dir / "pages" / slug
        self.workdir = run_dir / "work" / slug
        self.dir.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = dict(env)
        self.token = f"opsbook-{uuid.uuid4().hex}"
        self.env["OPSBOOK_SESSION"] = self.token
        self.state = self.dir / "state-0.sh"
        self.state.write_text(f"cd -- {shlex.quote(str(self.workdir))}\n")
        self.counter = 0

    def run(self, commands: list[str], timeout: float) -> Attempt:
        """Run one block (its commands in order, `set -e`) from the page's current state."""
        self.counter += 1
        n = self.counter
        script = self.dir / f"block-{n}.sh"
        out_path = self.dir / f"block-{n}.out"
        state_out = self.dir / f"state-{n}.sh"
        block_token = f"{self.token}-{n}"
        err_path = self.dir / f"block-{n}.errline"
        parts = [
            PROLOGUE.replace("{state_in}", shlex.quote(str(self.state)))
            .replace("{state_out}", shlex.quote(str(state_out)))
            .replace("{token}", block_token)
            .replace("{err_file}", shlex.quote(str(err_path)))
        ]
        body_start = parts[0].count("\n") + 1  # script line of the first command line
        for i, cmd in enumerate(commands):
            if len(commands) > 1:
                parts.append(f"printf '{MARK}%d\\n' {i}\n")
            parts.append(cmd.rstrip("\n") + "\n")
        script.write_text("".join(parts))
        env = self.env
        start = time.monotonic()
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                ["bash", "--noprofile", "--norc", str(script)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
            )
            try:
                code: int | None = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                code = None
                _kill_group(proc)
                _kill_tagged(block_token)
            except BaseException:  # Ctrl-C: leave nothing running behind us
                _kill_group(proc)
                _kill_tagged(block_token)
                raise
        duration = time.monotonic() - start
        raw = out_path.read_bytes().decode("utf-8", "replace")
        outputs, last = _split(raw, len(commands))
        err_line = None
        if len(commands) == 1 and code and err_path.exists():
            err_line = int(err_path.read_text() or 0) - body_start + 1 or None
        return Attempt(code, "".join(outputs), outputs, last, duration, state_out, err_line)

    def commit(self, attempt: Attempt) -> None:
        """The block passed: the next block starts from the state it left."""
        if attempt.state.exists():
            self.state = attempt.state

    def close(self) -> None:
        """End of page: stop anything the page's blocks left running in the background."""
        _kill_tagged(self.token)


def _split(raw: str, n: int) -> tuple[list[str], int]:
    if n <= 1:
        return [raw], 0
    outputs = [""] * n
    current = -1
    pre = ""
    for chunk in raw.split(MARK):
        if current == -1 and not pre and not chunk.split("\n", 1)[0].isdigit():
            pre = chunk
            continue
        head, _, rest = chunk.partition("\n")
        if head.isdigit() and int(head) < n:
            current = int(head)
            outputs[current] += rest
        elif current >= 0:
            outputs[current] += MARK + chunk
    if pre and outputs:
        outputs[0] = pre + outputs[0]
    return outputs, max(current, 0)
