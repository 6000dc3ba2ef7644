"""promtool itself: the generated rules pass `check rules` and the generated suite.

Real promtool, never skipped: a machine without it fails here, naming scripts/bootstrap.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbook.alerts.generate import RULES_FILE, TESTS_FILE, prove, write_rules
from opsbook.alerts.promtool import find_promtool, run_promtool
from opsbook.errors import OpsbookError
from opsbook.facts import load_facts
from opsbook.project import Project


def test_promtool_is_installed() -> None:
    # Fails (not skips) on a machine that was not bootstrapped; the message says what to do.
    find_promtool()


def test_generated_rules_pass_check_and_the_generated_suite(repo_project: Project) -> None:
    proof = prove(load_facts(repo_project.facts_dir))
    assert proof.check.ok, proof.check.output
    assert proof.test is not None and proof.test.ok, proof.test and proof.test.output
    assert proof.rules == 3 * len(load_facts(repo_project.facts_dir).thresholds)
    assert proof.cases > 0


def test_suite_catches_a_rule_that_disagrees_with_the_facts(
    repo_project: Project, tmp_path: Path
) -> None:
    facts = load_facts(repo_project.facts_dir)
    prove(facts, keep_dir=tmp_path)  # leaves rules + suite in tmp_path
    rules = tmp_path / RULES_FILE
    # The kind of slip the suite exists for: >= instead of >, and a threshold nudged.
    for old, new in [
        ("opsbook:error_rate:value > 2\n", "opsbook:error_rate:value >= 2\n"),
        ("opsbook:error_rate:value > 5\n", "opsbook:error_rate:value > 5.1\n"),
    ]:
        text = rules.read_text()
        assert old in text
        rules.write_text(text.replace(old, new))
        result = run_promtool(["test", "rules", TESTS_FILE], cwd=tmp_path)
        assert not result.ok, f"suite did not notice {new.strip()!r}"
        assert "error_rate" in result.output
        rules.write_text(text)


def test_missing_promtool_is_one_line_naming_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("OPSBOOK_PROMTOOL", raising=False)
    with pytest.raises(OpsbookError) as err:
        find_promtool()
    (line,) = err.value.problems
    assert "scripts/bootstrap" in line and "\n" not in line


def test_write_rules_writes_the_header(tmp_path: Path, repo_project: Project) -> None:
    path = write_rules(load_facts(repo_project.facts_dir), tmp_path)
    assert path.read_text().startswith(
        "# generated from facts/thresholds.yml by `opsbook alerts render`; do not edit"
    )
