"""Shell the harness runs in a page's session without showing it: fault injections and
restores, alert probes, the baseline probe, the traffic driver.

It runs exactly as the page's blocks do (same user, environment and sandbox), but in a
subshell, so its variables and functions never leak into the page's state where the
reader's next block would see them.
"""

from __future__ import annotations

import difflib

from opsbook.harness.running.session import PageSession

PROBE_TIMEOUT = 60.0  # seconds for a probe, an injection or a restore


class HiddenFailed(Exception):
    """A hidden script exited non-zero (or timed out); the message names it."""


def run_hidden(
    session: PageSession, what: str, script: str, timeout: float = PROBE_TIMEOUT
) -> str:
    """The script's output; HiddenFailed("WHAT failed (exit N): last lines") otherwise."""
    att = session.run([f"(\n{script.rstrip()}\n)"], timeout)
    if att.exit_code != 0:
        tail = " | ".join(att.output.strip().splitlines()[-3:])
        raise HiddenFailed(f"{what} failed (exit {att.exit_code}): {tail}")
    return att.output


def state_diff(before: str, after: str, old: str = "before", new: str = "after") -> str:
    """The lines of a state probe's output that changed, as +/- lines (no context)."""
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), old, new, lineterm="", n=0
    )
    return "\n".join(line for line in lines if not line.startswith("@@"))
