"""opsbook.alerts.rules: facts -> recording rules and warning/critical alerts."""

from __future__ import annotations

import pytest

from opsbook.alerts.rules import (
    ALERTS_GROUP,
    RECORDING_GROUP,
    alert_name,
    alert_rows,
    promql_number,
    record_name,
    rule_groups,
    runbook_url,
)
from opsbook.facts import Facts, load_facts
from opsbook.project import find_project


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load_facts(find_project().facts_dir)


def _alerts(facts: Facts) -> list[dict]:
    groups = {g["name"]: g["rules"] for g in rule_groups(facts)["groups"]}
    return groups[ALERTS_GROUP]


def test_one_recording_rule_per_threshold_evaluating_its_query(facts: Facts) -> None:
    groups = {g["name"]: g["rules"] for g in rule_groups(facts)["groups"]}
    assert groups[RECORDING_GROUP] == [
        {"record": record_name(k), "expr": t.query} for k, t in facts.thresholds.items()
    ]


def test_a_warning_and_a_critical_alert_per_threshold(facts: Facts) -> None:
    names = [a["alert"] for a in _alerts(facts)]
    assert len(names) == 2 * len(facts.thresholds) == len(set(names))
    assert "OpsbookErrorRateWarning" in names and "OpsbookErrorRateCritical" in names


def test_every_alert_has_a_runbook_url_into_the_site(facts: Facts) -> None:
    for rule in _alerts(facts):
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(facts.platform.site_url), rule["alert"]
        assert "#" in url and not url.endswith("#"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_alert_carries_threshold_for_and_severity_from_the_facts(facts: Facts) -> None:
    rules = {r["alert"]: r for r in _alerts(facts)}
    t = facts.thresholds["error_rate"]
    critical = rules["OpsbookErrorRateCritical"]
    assert critical["expr"] == f"opsbook:error_rate:value > {promql_number(t.critical)}"
    assert critical["for"] == t.for_.critical
    assert critical["labels"] == {"severity": "critical", "threshold": "error_rate"}
    assert rules["OpsbookErrorRateWarning"]["for"] == t.for_.warning


def test_lower_is_worse_compares_with_less_than(facts: Facts) -> None:
    t = facts.thresholds["cache_hit_rate"]
    assert t.direction.value == "lower_is_worse"
    rule = {r["alert"]: r for r in _alerts(facts)}["OpsbookCacheHitRateWarning"]
    assert rule["expr"] == f"opsbook:cache_hit_rate:value < {promql_number(t.warning)}"
    assert "below" in rule["annotations"]["summary"]


@pytest.mark.parametrize(
    ("runbook", "expected"),
    [
        ("troubleshooting.md#high-error-rate", "troubleshooting/#high-error-rate"),
        ("ops/scaling.md#scale-out", "ops/scaling/#scale-out"),
        ("index.md#top", "#top"),
        ("ops/index.md#x", "ops/#x"),
    ],
)
def test_runbook_url_follows_mkdocs_directory_urls(facts: Facts, runbook: str, expected: str):
    t = facts.thresholds["error_rate"].model_copy(update={"runbook": runbook})
    assert runbook_url(facts, t) == facts.platform.site_url + expected


def test_names_and_numbers() -> None:
    assert alert_name("db_connections", "warning") == "OpsbookDbConnectionsWarning"
    assert record_name("latency_p95") == "opsbook:latency_p95:value"
    assert [promql_number(v) for v in (2.0, 0.5, 1e6, 1234567.0, 0.1)] == [
        "2",
        "0.5",
        "1000000",
        "1234567",
        "0.1",
    ]


def test_alert_rows_match_the_rules(facts: Facts) -> None:
    rows = alert_rows(facts)
    rules = _alerts(facts)
    assert [r.name for r in rows] == [r["alert"] for r in rules]
    assert [r.runbook_url for r in rows] == [r["annotations"]["runbook_url"] for r in rules]


@pytest.mark.parametrize(
    ("hold", "scale", "expected"),
    [("1m", 0.1, "6s"), ("2m", 0.1, "12s"), ("10m", 0.1, "1m"), ("15m", 0.1, "90s"),
     ("5m", 1.0, "5m"), ("1m", 0.001, "1s")],
)
def test_the_sandbox_scales_every_for(hold: str, scale: float, expected: str) -> None:
    from opsbook.alerts.rules import scaled

    assert scaled(hold, scale) == expected


@pytest.mark.parametrize(
    ("query", "scale", "expected"),
    [
        ("rate(x[5m])", 0.1, "rate(x[1m])"),  # 30s, raised to the 1m floor
        ("rate(x[10m]) / rate(y[1m])", 0.1, "rate(x[1m]) / rate(y[1m])"),
        ("rate(x[30m])", 0.1, "rate(x[3m])"),
        ("rate(x[30s])", 0.1, "rate(x[30s])"),  # never longer than the real window
        ("rate(x[5m])", 1.0, "rate(x[5m])"),
        ("max_over_time(rate(x[5m])[30m:1m])", 0.1, "max_over_time(rate(x[1m])[30m:1m])"),
    ],
)
def test_the_sandbox_scales_every_range_window(query: str, scale: float, expected: str) -> None:
    from opsbook.alerts.rules import scaled_query

    assert scaled_query(query, scale) == expected


def test_sandbox_rules_differ_from_the_real_ones_only_in_for_and_windows(facts: Facts) -> None:
    from opsbook.alerts.rules import scaled_query

    scale = facts.scenarios.for_scale
    real = rule_groups(facts)["groups"]
    sandbox = rule_groups(facts, scale)["groups"]
    changed = 0
    for want, got in zip(real, sandbox, strict=True):
        for r, s in zip(want["rules"], got["rules"], strict=True):
            assert {k: v for k, v in r.items() if k not in ("for", "expr")} == {
                k: v for k, v in s.items() if k not in ("for", "expr")
            }
            assert s["expr"] == scaled_query(r["expr"], scale)
            changed += s["expr"] != r["expr"]
    # the CPU, latency and cache hit rate windows (5m, 10m) shrink; error rate's 1m stays
    assert changed == 4
