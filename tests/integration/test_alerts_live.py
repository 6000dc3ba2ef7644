"""Live: the sandbox's Prometheus evaluates exactly the rules generated from the facts.

Read-only (GET /api/v1/rules), so it is safe beside other integration tests. The firing
drill itself is a documented block on the monitoring page, run by the harness.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from opsbook.alerts.rules import rule_groups
from opsbook.facts import load_facts
from opsbook.project import find_project

pytestmark = pytest.mark.integration


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:  # 127.0.0.1 only
        return json.load(resp)["data"]


def _loaded_rules(port: int, deadline: float = 60.0) -> list[dict[str, Any]]:
    # Prometheus answers /-/ready before the first rule evaluation; wait until rules report.
    end = time.monotonic() + deadline
    while True:
        groups = _get(f"http://127.0.0.1:{port}/api/v1/rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        if (rules and all(r.get("health") != "unknown" for r in rules)) or time.monotonic() > end:
            return groups
        time.sleep(2)


def test_prometheus_loads_exactly_the_generated_rules(sandbox: object) -> None:
    project = find_project()
    facts = load_facts(project.facts_dir)
    groups = _loaded_rules(facts.service("prometheus").port)
    expected = rule_groups(facts)["groups"]

    # Prometheus lists groups by name; rule order inside a group is the file's order.
    live_groups = {g["name"]: g for g in groups}
    assert sorted(live_groups) == sorted(g["name"] for g in expected)
    for want in expected:
        live = live_groups[want["name"]]
        names = [r["name"] for r in live["rules"]]
        assert names == [r.get("alert") or r.get("record") for r in want["rules"]]
        for rule, spec in zip(live["rules"], want["rules"], strict=True):
            assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
            if "alert" in spec:
                assert rule["annotations"]["runbook_url"] == spec["annotations"]["runbook_url"]
                assert rule["labels"] == spec["labels"]
                assert rule["duration"] > 0
