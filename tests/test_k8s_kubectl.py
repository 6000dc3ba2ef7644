"""Every kubectl command on the rendered pages parses (kubectl's own parser, no cluster)
and names what deploy/k8s/ defines; misspelled ones are caught."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opsbook.facts import Facts
from opsbook.harness.reading.plan import Plan, plan_pages, read_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.k8s import kubectl
from opsbook.k8s.commands import (
    KubectlCommand,
    commands_on,
    name_problems,
    parse_problems,
)
from opsbook.project import Project

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_pages(Project(ROOT))


@pytest.fixture(scope="module")
def facts(plan: Plan) -> Facts:
    assert plan.facts is not None
    return plan.facts


@pytest.fixture(scope="module")
def contexts(facts: Facts) -> list[str]:
    return [e.kube_context for e in facts.environments.values() if e.kube_context]


@pytest.fixture(scope="module")
def kind_objects() -> list[dict[str, Any]]:
    return kubectl.kustomize(ROOT / "deploy" / "k8s" / "overlays" / "kind")


def command(text: str, page: str = "t.md", line: int = 1) -> KubectlCommand:
    words = text.split()
    assert words[0] == "kubectl"
    return KubectlCommand(page, line, text, tuple(words[1:]), "Kubernetes")


def test_every_kubectl_command_on_the_pages_parses(plan: Plan, contexts: list[str]) -> None:
    commands, uncheckable = commands_on(plan.pages)
    assert uncheckable == []
    kubernetes_tab = [c for c in commands if c.tab == "Kubernetes"]
    # deployment (3), rollback (3), scaling (1); the env-setup snippet's `use-context`
    # on every page that includes it
    assert len(kubernetes_tab) >= 7
    assert {c.page for c in kubernetes_tab} >= {"deployment.md", "rollback.md", "scaling.md"}
    assert any(c.args[:2] == ("config", "use-context") for c in commands)
    assert parse_problems(commands, contexts) == []


def test_every_kubernetes_tab_block_was_seen(plan: Plan) -> None:
    """No Kubernetes tab's kubectl slips past the extraction."""
    commands, _ = commands_on(plan.pages)
    seen = {(c.page, c.line) for c in commands}
    for page in plan.pages:
        for block, _ in page.shell:
            for offset, line in enumerate(block.body.split("\n"), start=1):
                if line.lstrip().startswith("kubectl "):
                    assert (block.page, block.line + offset) in seen, f"{block.id}+{offset}"


def test_the_pages_name_what_the_manifests_define(
    plan: Plan, kind_objects: list[dict[str, Any]],
) -> None:
    commands, _ = commands_on(plan.pages)
    assert [p for c in commands for p in name_problems(c, kind_objects)] == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("kubectl -n opsbook scale deployment/worker --replcas=3", "unknown flag: --replcas"),
        ("kubectl -n opsbook scale deployment/worker --replicas=three", 'invalid argument "three"'),
        ("kubectl -n opsbook scale deployment/worker", 'required flag(s) "replicas" not set'),
        ("kubectl -n opsbook rollout stauts deployment/api", 'unknown command "stauts'),
        ("kubectl -n opsbook rollout status deployment/api --timeout=2q", 'unknown unit "q"'),
        ("kubectl config use-context opsbook-nowhere", "no context exists"),
    ],
)
def test_a_broken_command_is_caught(text: str, why: str, contexts: list[str]) -> None:
    (problem,) = parse_problems([command(text, "scaling.md", 71)], contexts)
    assert problem.startswith("scaling.md:71: `kubectl ")
    assert why in problem


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("kubectl -n opsbok get pods", "namespace 'opsbok' is not in the manifests"),
        ("kubectl -n opsbook scale deployment/workers --replicas=3",
         "no Deployment named 'workers'"),
        ("kubectl -n opsbook set image deployment/api app=opsbook/api:v1",
         "Deployment api has no container 'app' (api)"),
        ("kubectl -n opsbook get pods -l app.kubernetes.io/part-of=opsbok",
         "selects no pod of the manifests"),
    ],
)
def test_a_wrong_name_is_caught(text: str, why: str, kind_objects: list[dict[str, Any]]) -> None:
    (problem,) = name_problems(command(text), kind_objects)
    assert why in problem


def test_a_shell_expansion_is_reported_not_guessed() -> None:
    page = read_page("t.md", '=== "Kubernetes"\n\n    ```bash\n    kubectl -n "$NS" get pods\n'
                     "    ```\n", Forbidden.from_facts(None))
    commands, uncheckable = commands_on([page])
    assert commands == []
    assert uncheckable == ['t.md:4: `kubectl -n \'$NS\' get pods`: a shell expansion in a '
                           "kubectl command cannot be checked offline"]


def test_pipes_continuations_and_console_prompts() -> None:
    body = ('=== "Kubernetes"\n\n    ```console\n    $ kubectl -n opsbook get pods \\\n'
            "    >   -o wide | grep api && kubectl -n opsbook rollout history deployment/api\n"
            "    NAME READY\n    ```\n")
    page = read_page("t.md", body, Forbidden.from_facts(None))
    commands, _ = commands_on([page])
    assert [(c.line, c.args) for c in commands] == [
        (4, ("-n", "opsbook", "get", "pods", "-o", "wide")),
        (4, ("-n", "opsbook", "rollout", "history", "deployment/api")),
    ]
