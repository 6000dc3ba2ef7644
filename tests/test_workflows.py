"""The hosted CI workflow: what its jobs run, and that the static checks `nox -s lint`
runs on it (GitHub's workflow schema, zizmor) pass and would catch a mistake."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
PINNED = r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$"


def tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    assert found.is_file(), f"{name} missing: pip install -e '.[test]' installs it"
    return str(found)


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True, text=True, timeout=60,
    )


def zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("zizmor"), "--offline", "--persona=auditor", str(path)],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def run_lines(job: dict[str, Any]) -> list[str]:
    return [line for step in job["steps"] for line in step.get("run", "").splitlines()]


def test_jobs_run_what_the_project_runs(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    assert run_lines(jobs["tests"]) == ["bash .ci/run"]
    kind = run_lines(jobs["kind"])
    up = kind.index("opsbook sandbox up --backend kind")
    # the pages run against the cluster the step before brought up (no second up/down)
    assert kind[up + 1] == "opsbook test --backend kind --no-sandbox"
    assert kind[-1] == "opsbook sandbox down --backend kind"
    assert jobs["kind"]["steps"][-1]["if"] == "${{ always() }}"  # the cluster always goes
    assert any(s.get("uses", "").startswith("helm/kind-action@") for s in jobs["kind"]["steps"])
    assert jobs["pages"]["needs"] == ["tests", "kind"]
    names = {s["with"]["name"] for s in jobs["pages"]["steps"]
             if s.get("uses", "").startswith("actions/download-artifact@")}
    assert names == {"results-compose", "results-kind"}


def test_least_privilege_and_pinned_actions(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert job["permissions"]["contents"] == "read", name
        for step in job["steps"]:
            uses = step.get("uses")
            if uses is None:
                continue
            assert re.match(PINNED, uses), f"{name}: {uses} not pinned by commit"
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
    writes = {job: sorted(k for k, v in spec["permissions"].items() if v == "write")
              for job, spec in workflow["jobs"].items()}
    assert writes == {"tests": [], "kind": [], "pages": ["id-token", "pages"]}


def test_the_workflow_passes_both_static_checks() -> None:
    schema = schema_check(WORKFLOW)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = zizmor(WORKFLOW)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "No findings" in audit.stdout + audit.stderr


def test_the_schema_check_catches_a_misspelled_key(tmp_path: Path) -> None:
    broken = tmp_path / "ci.yml"
    text = WORKFLOW.read_text()
    broken.write_text(text.replace("runs-on: ubuntu-24.04", "run-on: ubuntu-24.04", 1))
    done = schema_check(broken)
    assert done.returncode == 1 and "run-on" in done.stdout + done.stderr


def test_zizmor_catches_persisted_credentials_and_an_unpinned_action(tmp_path: Path) -> None:
    text = WORKFLOW.read_text()
    broken = tmp_path / "ci.yml"
    broken.write_text(text.replace("persist-credentials: false", "persist-credentials: true", 1)
                      .replace("helm/kind-action@a1b0e391336a6ee6713a0583f8c6240d70863de3",
                               "helm/kind-action@v1", 1))
    done = zizmor(broken)
    found = done.stdout + done.stderr
    assert done.returncode != 0
    assert "artipacked" in found and "unpinned-uses" in found

