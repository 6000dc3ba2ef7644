"""Prometheus durations ("90s", "5m", "1h30m"): the one parser the facts, the pages and
the alert tests share."""

from __future__ import annotations

import re

PATTERN = r"([0-9]+(ms|s|m|h|d|w|y))+"
_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
            "w": 7 * 86_400_000, "y": 365 * 86_400_000}
_UNIT_NAME = {"ms": "millisecond", "s": "second", "m": "minute", "h": "hour", "d": "day",
              "w": "week", "y": "year"}


def _parts(text: str) -> list[tuple[str, str]]:
    if not re.fullmatch(PATTERN, text):
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return _PART.findall(text)


def duration_ms(text: str) -> int:
    """'1h30m' -> 5400000."""
    return sum(int(n) * _UNIT_MS[unit] for n, unit in _parts(text))


def duration_seconds(text: str) -> int:
    """'2m' -> 120: for commands that take seconds (`--wait-timeout 120`)."""
    return round(duration_ms(text) / 1000)


def human_duration(text: str) -> str:
    """'5m' -> '5 minutes', '1h30m' -> '1 hour 30 minutes'."""
    return " ".join(f"{n} {_UNIT_NAME[u]}{'' if n == '1' else 's'}" for n, u in _parts(text))


def format_duration(ms: int) -> str:
    """5400000 -> '90m': the largest whole unit promtool accepts back."""
    for unit, size in (("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
