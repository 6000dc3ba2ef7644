"""The one way the sandbox's tools (rollout.py, share.py) call docker: a timeout on every
call, and a one-line error with the output's tail instead of a traceback.

Standard library only, beside the tools that import it, so they run with the system's
python3 wherever the sandbox's files are.
"""

from __future__ import annotations

import subprocess


class ToolError(Exception):
    """What a tool prints as `TOOL: error: MESSAGE` before exiting 2."""


def docker(*args: str, timeout: float, stdin: str | None = None) -> str:
    """stdout of `docker ARGS`; ToolError if it fails, times out or docker is missing."""
    try:
        done = subprocess.run(
            ["docker", *args], input=stdin, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ToolError(f"`docker {' '.join(args)}` took over {timeout:.0f} s") from None
    except FileNotFoundError:
        raise ToolError("docker is not on PATH") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ToolError(f"`docker {' '.join(args)}` failed: {' | '.join(tail)}")
    return done.stdout
