"""Sandbox instances (facts/instances.py): instance K's own project name and port block."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbook.errors import OpsbookError
from opsbook.facts import load_facts
from opsbook.facts.instances import VARIABLE, for_instance, instance_from_env
from opsbook.project import Project
from tests.helpers import replace_in
from tests.test_facts import problems_for

FACTS = load_facts(Path(__file__).resolve().parents[1] / "facts")


def test_instances_never_share_a_port_or_a_project_name() -> None:
    n = FACTS.platform.sandbox_instances.max
    seen: dict[int, int] = {}
    names = set()
    for k in range(n):
        facts = for_instance(FACTS, k)
        names.add(facts.platform.compose_project)
        for svc in facts.services:
            for port in svc.host_ports:
                assert port not in seen, f"instance {k} and {seen[port]} both use {port}"
                assert port <= 65535
                seen[port] = k
    assert len(names) == n


def test_the_sandbox_urls_move_with_the_ports() -> None:
    one = for_instance(FACTS, 1)
    stride = FACTS.platform.sandbox_instances.port_stride
    proxy = FACTS.service("proxy").port
    assert str(one.sandbox.api_url).rstrip("/").endswith(f":{proxy + stride}")
    assert one.service("proxy").port == proxy + stride
    assert one.environments["production"] == FACTS.environments["production"]
    assert for_instance(FACTS, 0) is FACTS


def test_the_environment_selects_the_instance() -> None:
    assert instance_from_env(FACTS, {}) == 0
    assert instance_from_env(FACTS, {VARIABLE: "1"}) == 1
    for bad in ("-1", "x", str(FACTS.platform.sandbox_instances.max)):
        with pytest.raises(OpsbookError, match=f"{VARIABLE}={bad}: must be a number"):
            instance_from_env(FACTS, {VARIABLE: bad})


def test_a_stride_smaller_than_the_port_block_is_a_fact_problem(project_copy: Project) -> None:
    replace_in(project_copy.facts_dir / "platform.yml", "  compose_project: opsbook-sandbox\n",
               "  compose_project: opsbook-sandbox\n"
               "  sandbox_instances: {port_stride: 100, max: 2}\n")
    [problem] = problems_for(project_copy.facts_dir)
    assert "platform.sandbox_instances.port_stride" in problem, problem
    assert "instances would share ports; use at least" in problem
