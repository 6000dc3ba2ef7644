"""Facts -> a `promtool test rules` suite that pins every alert to its documented threshold.

For each threshold, one test group per case, each feeding the recorded series
(`opsbook:<id>:value`, already in the documented unit) a constant value:

- below_warning:  just on the healthy side of warning -> nothing fires
- at_warning:     exactly the warning value -> nothing fires (alerts compare strictly)
- above_warning:  just past warning -> warning pending one step before `for`, firing at
                  `for`, with the expected annotations (runbook_url included); no critical
- at_critical:    exactly the critical value -> warning fires, critical does not
- above_critical: just past critical -> critical firing at its `for`, warning at its own

"Just" is 1 % of the warning-critical gap, so a threshold off by more than that fails.
"""

from __future__ import annotations

import math
from typing import Any

from opsbook.alerts.rules import (
    AlertSpec,
    Level,
    alert_name,
    annotations,
    labels,
    promql_number,
    record_name,
)
from opsbook.facts import Direction, Facts, Threshold
from opsbook.facts.durations import duration_ms, format_duration

NUDGE = 0.01  # share of the warning-critical gap that counts as "just" past a threshold


def step_ms(facts: Facts) -> int:
    """Evaluation interval: 1m unless some `for` needs finer steps to fire on time."""
    holds = [
        duration_ms(d) for t in facts.thresholds.values() for d in (t.for_.warning, t.for_.critical)
    ]
    return math.gcd(60_000, *holds)


def suite(facts: Facts, rules_file: str) -> dict[str, Any]:
    step = step_ms(facts)
    groups = [
        group
        for metric, threshold in facts.thresholds.items()
        for group in _groups(facts, metric, threshold, step)
    ]
    return {
        "rule_files": [rules_file],
        "evaluation_interval": format_duration(step),
        "tests": groups,
    }


def _groups(facts: Facts, metric: str, t: Threshold, step: int) -> list[dict[str, Any]]:
    worse = 1.0 if t.direction is Direction.higher_is_worse else -1.0
    nudge = abs(t.critical - t.warning) * NUDGE * worse
    hold = {"warning": duration_ms(t.for_.warning), "critical": duration_ms(t.for_.critical)}
    # Long enough for every alert that should fire to have fired.
    end = max(hold.values()) + step

    def spec(level: Level) -> AlertSpec:
        return AlertSpec(metric, level, t)

    def fires(level: Level, value: float, at: int) -> dict[str, Any]:
        s = spec(level)
        expected = {
            "exp_labels": labels(s),
            "exp_annotations": annotations(facts, s, value=go_number(value)),
        }
        return _check(metric, level, at, [expected])

    def quiet(level: Level, at: int) -> dict[str, Any]:
        return _check(metric, level, at, [])

    def pending(level: Level) -> list[dict[str, Any]]:
        # One step before `for` has elapsed the alert must still be pending, not firing.
        return [quiet(level, hold[level] - step)] if hold[level] >= step else []

    below_warning = _round(t.warning - nudge)
    above_warning = _round(t.warning + nudge)
    above_critical = _round(t.critical + nudge)
    cases: list[tuple[str, float, list[dict[str, Any]]]] = [
        ("below_warning", below_warning, [quiet("warning", end), quiet("critical", end)]),
        ("at_warning", t.warning, [quiet("warning", end), quiet("critical", end)]),
        (
            "above_warning",
            above_warning,
            [
                *pending("warning"),
                fires("warning", above_warning, hold["warning"]),
                quiet("critical", end),
            ],
        ),
        ("at_critical", t.critical, [fires("warning", t.critical, end), quiet("critical", end)]),
        (
            "above_critical",
            above_critical,
            [
                *pending("critical"),
                fires("critical", above_critical, hold["critical"]),
                fires("warning", above_critical, end),
            ],
        ),
    ]
    return [
        {
            "name": f"{metric}: {case} ({t.show(value)})",
            "interval": format_duration(step),
            "input_series": [
                {
                    "series": record_name(metric),
                    "values": f"{promql_number(value)}+0x{end // step}",
                }
            ],
            "alert_rule_test": checks,
        }
        for case, value, checks in cases
    ]


def _check(metric: str, level: Level, at: int, expected: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "eval_time": format_duration(at),
        "alertname": alert_name(metric, level),
        "exp_alerts": expected,
    }


def go_number(value: float) -> str:
    """What Go's `printf "%.4g"` prints (the rules' VALUE_TEMPLATE); Python's %g agrees."""
    return f"{value:.4g}"


def _round(value: float) -> float:
    # 2 + 0.03 is 2.0300000000000002 in binary; 12 significant digits keep the suite readable
    # and are far finer than the nudge.
    return float(f"{value:.12g}")
