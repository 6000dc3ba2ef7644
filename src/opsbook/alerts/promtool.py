"""Run promtool with a timeout; a missing promtool is one clear line, not a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from opsbook.errors import OpsbookError

DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class PromtoolResult:
    args: list[str]
    returncode: int
    output: str  # stdout and stderr, interleaved as promtool wrote them
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def command(self) -> str:
        return " ".join(["promtool", *self.args])


def find_promtool() -> str:
    """$OPSBOOK_PROMTOOL, else `promtool` on PATH."""
    explicit = os.environ.get("OPSBOOK_PROMTOOL")
    found = explicit if explicit and Path(explicit).is_file() else shutil.which("promtool")
    if not found:
        raise OpsbookError(
            "promtool not found on PATH: run scripts/bootstrap (it installs Debian's "
            "`prometheus` package, which ships promtool)"
        )
    return found


def run_promtool(args: list[str], cwd: Path, timeout: float = DEFAULT_TIMEOUT) -> PromtoolResult:
    binary = find_promtool()
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [binary, *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OpsbookError(f"promtool {' '.join(args)}: no answer after {timeout:g} s") from exc
    return PromtoolResult(args, proc.returncode, proc.stdout, time.monotonic() - started)
