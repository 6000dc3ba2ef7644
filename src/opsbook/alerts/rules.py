"""Facts -> Prometheus rule groups, as plain data ready to dump as YAML.

One recording rule per threshold evaluates the fact's `query` into `opsbook:<id>:value`,
and the warning and critical alerts compare that one series. Why a recording rule:
the query is written once, in the unit the thresholds use; each alert stays a single
readable comparison (`opsbook:error_rate:value > 2`); the promtool suite can feed the
recorded series in the documented unit; and pages and drills can query the exact series
the alert sees.

Like kubernetes-mixin, thresholds come from configuration (here: facts) and every alert
carries a `runbook_url` to the section of the site that handles it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from opsbook.facts import Direction, Facts, Threshold
from opsbook.facts.durations import duration_ms, format_duration
from opsbook.facts.model import alert_name

Level = Literal["warning", "critical"]
LEVELS: tuple[Level, ...] = ("warning", "critical")

RECORDING_GROUP = "opsbook.recording"
ALERTS_GROUP = "opsbook.alerts"
# The sandbox never shortens a range window below this: 12 scrapes at its 5 s interval, so
# a single slow or failed request cannot swing a rate across a threshold.
MIN_WINDOW = "1m"
# A range selector's window, `[5m]` (a subquery's `[5m:1m]` has a colon and is left alone).
RANGE_WINDOW = re.compile(r"\[([0-9]+[a-z]+)\]")
# Go template Prometheus expands per alert; the tests expand it the same way in Python
# (`"%.4g" % value`), so keep both in step.
VALUE_TEMPLATE = '{{ printf "%.4g" $value }}'


@dataclass(frozen=True)
class AlertSpec:
    """One alert: a threshold id at one level. Everything else derives from the facts."""

    metric: str
    level: Level
    threshold: Threshold

    @property
    def name(self) -> str:
        return alert_name(self.metric, self.level)

    @property
    def value(self) -> float:
        return getattr(self.threshold, self.level)

    @property
    def hold(self) -> str:
        return getattr(self.threshold.for_, self.level)

    @property
    def expr(self) -> str:
        return f"{record_name(self.metric)} {self.threshold.op} {promql_number(self.value)}"


def record_name(metric: str) -> str:
    return f"opsbook:{metric}:value"


def runbook_url(facts: Facts, threshold: Threshold) -> str:
    """troubleshooting.md#high-error-rate -> <site_url>troubleshooting/#high-error-rate.

    The site uses MkDocs directory URLs: `a/b.md` is served at `a/b/`, `a/index.md` at `a/`.
    """
    page, _, anchor = threshold.runbook.partition("#")
    path = page.removesuffix(".md")
    if path == "index" or path.endswith("/index"):
        path = path.removesuffix("index")
    else:
        path += "/"
    return f"{facts.platform.site_url}{path}#{anchor}"


def promql_number(value: float) -> str:
    """2.0 -> "2", 0.5 -> "0.5": exact (repr round-trips), never "1.23457e+06"."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def alert_specs(facts: Facts) -> list[AlertSpec]:
    """Warning then critical for every threshold, in the order the facts list them."""
    return [
        AlertSpec(metric, level, threshold)
        for metric, threshold in facts.thresholds.items()
        for level in LEVELS
    ]


def unit_suffix(threshold: Threshold) -> str:
    # Reuse the pages' way of printing a value with its unit (" %", " s", " jobs").
    return threshold.show(0.0).removeprefix("0")


def annotations(facts: Facts, spec: AlertSpec, value: str = VALUE_TEMPLATE) -> dict[str, str]:
    """The alert's annotations; `value` is the template in rules, the expansion in tests."""
    t = spec.threshold
    side = "above" if t.direction is Direction.higher_is_worse else "below"
    return {
        "summary": f"{t.title} {side} {t.show(spec.value)} for {spec.hold}",
        "description": (
            f"{t.description}: {value}{unit_suffix(t)} "
            f"(warning {side} {t.show(t.warning)}, critical {side} {t.show(t.critical)})."
        ),
        "runbook_url": runbook_url(facts, t),
    }


def scaled(hold: str, for_scale: float) -> str:
    """A `for` scaled for the sandbox, in whole seconds: 1m x 0.1 -> 6s."""
    if for_scale == 1:
        return hold
    return format_duration(max(1, round(duration_ms(hold) * for_scale / 1000)) * 1000)


def scaled_window(window: str, for_scale: float) -> str:
    """A range window scaled as `for` is (`scaled`), never under MIN_WINDOW nor over the
    real one: 5m x 0.1 -> 1m, 10m x 0.1 -> 1m, 30s x 0.1 -> 30s."""
    real = duration_ms(window)
    floor = duration_ms(MIN_WINDOW)
    return format_duration(min(real, max(duration_ms(scaled(window, for_scale)), floor)))


def scaled_query(query: str, for_scale: float) -> str:
    """The query with every range window scaled (`scaled_window`); the real one verbatim."""
    if for_scale == 1:
        return query
    return RANGE_WINDOW.sub(lambda m: f"[{scaled_window(m[1], for_scale)}]", query)


def alert_rule(facts: Facts, spec: AlertSpec, for_scale: float = 1.0) -> dict[str, Any]:
    return {
        "alert": spec.name,
        "expr": spec.expr,
        "for": scaled(spec.hold, for_scale),
        "labels": labels(spec),
        "annotations": annotations(facts, spec),
    }


def labels(spec: AlertSpec) -> dict[str, str]:
    # `threshold` lets Alertmanager inhibit a warning while the same metric's critical fires.
    return {"severity": spec.level, "threshold": spec.metric}


def rule_groups(facts: Facts, for_scale: float = 1.0) -> dict[str, Any]:
    """The whole rules file as data; dict order is the output order (drift checks are exact).

    `for_scale` < 1 gives the sandbox's variant (facts: scenarios.for_scale): the same
    expressions, with every `for` and every range window shortened, so a fault's alerts
    fire, and resolve, within a CI run. Why the windows too: a CPU alert on a 5-minute
    rate needs minutes of a busy core before the rate crosses 70 %, however short its
    `for` (measured: 320 s to fire with only `for` scaled)."""
    recording = [
        {"record": record_name(metric), "expr": scaled_query(threshold.query, for_scale)}
        for metric, threshold in facts.thresholds.items()
    ]
    alerting = [alert_rule(facts, spec, for_scale) for spec in alert_specs(facts)]
    return {
        "groups": [
            {"name": RECORDING_GROUP, "rules": recording},
            {"name": ALERTS_GROUP, "rules": alerting},
        ]
    }


@dataclass(frozen=True)
class AlertRow:
    """One alert as the monitoring page's alert table shows it (for the render context)."""

    name: str
    severity: Level
    metric: str
    title: str
    expr: str
    hold: str
    summary: str
    runbook: str  # docs-relative link target, e.g. troubleshooting.md#high-error-rate
    runbook_url: str


def alert_rows(facts: Facts) -> list[AlertRow]:
    """Exactly the alerts in the generated rules, in the same order."""
    rows = []
    for spec in alert_specs(facts):
        notes = annotations(facts, spec)
        rows.append(
            AlertRow(
                name=spec.name,
                severity=spec.level,
                metric=spec.metric,
                title=spec.threshold.title,
                expr=spec.expr,
                hold=spec.hold,
                summary=notes["summary"],
                runbook=spec.threshold.runbook,
                runbook_url=notes["runbook_url"],
            )
        )
    return rows
