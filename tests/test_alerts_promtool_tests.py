"""opsbook.alerts.promtool_tests: the generated suite pins each alert to its threshold."""

from __future__ import annotations

import pytest

from opsbook.alerts.promtool_tests import duration_ms, format_duration, step_ms, suite
from opsbook.facts import Facts, load_facts
from opsbook.project import find_project

CASES = ("below_warning", "at_warning", "above_warning", "at_critical", "above_critical")


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load_facts(find_project().facts_dir)


def test_durations_round_trip() -> None:
    assert duration_ms("1h30m") == 5_400_000
    assert duration_ms("90s") == 90_000
    assert duration_ms("250ms") == 250
    assert [format_duration(ms) for ms in (120_000, 90_000, 250)] == ["2m", "90s", "250ms"]
    with pytest.raises(ValueError):
        duration_ms("5 minutes")


def test_step_is_fine_enough_for_every_for(facts: Facts) -> None:
    assert step_ms(facts) == 60_000  # all `for`s in the facts are whole minutes
    odd = facts.model_copy(
        update={
            "thresholds": {
                "x": facts.thresholds["error_rate"].model_copy(
                    update={
                        "for_": facts.thresholds["error_rate"].for_.model_copy(
                            update={"warning": "90s"}
                        )
                    }
                )
            }
        }
    )
    assert step_ms(odd) == 30_000


def test_five_cases_per_threshold_named_by_metric(facts: Facts) -> None:
    names = [g["name"] for g in suite(facts, "r.yml")["tests"]]
    assert len(names) == len(CASES) * len(facts.thresholds)
    for metric in facts.thresholds:
        assert [n.split(" ")[1] for n in names if n.startswith(f"{metric}: ")] == list(CASES)


def test_values_straddle_the_documented_thresholds(facts: Facts) -> None:
    groups = {g["name"].split(" (")[0]: g for g in suite(facts, "r.yml")["tests"]}
    value = {k: float(g["input_series"][0]["values"].split("+")[0]) for k, g in groups.items()}
    assert value["error_rate: below_warning"] < 2 < value["error_rate: above_warning"] < 5
    assert value["error_rate: above_critical"] > 5
    # lower is worse: "above" means further down
    assert value["cache_hit_rate: below_warning"] > 60 > value["cache_hit_rate: above_warning"]


def test_firing_expectations_include_the_runbook_url(facts: Facts) -> None:
    fired = [
        alert
        for group in suite(facts, "r.yml")["tests"]
        for check in group["alert_rule_test"]
        for alert in check["exp_alerts"]
    ]
    assert fired
    assert all(a["exp_annotations"]["runbook_url"].startswith("https://") for a in fired)


def test_warning_must_still_be_pending_one_step_before_its_for(facts: Facts) -> None:
    group = next(
        g
        for g in suite(facts, "r.yml")["tests"]
        if g["name"].startswith("error_rate: above_warning")
    )
    checks = [
        (c["eval_time"], c["alertname"], bool(c["exp_alerts"])) for c in group["alert_rule_test"]
    ]
    hold = facts.thresholds["error_rate"].for_.warning
    assert (format_duration(duration_ms(hold) - 60_000), "OpsbookErrorRateWarning", False) in checks
    assert (hold, "OpsbookErrorRateWarning", True) in checks
