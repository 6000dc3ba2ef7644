"""`opsbook alerts render|test`, drift detection, and one fact driving rules, suite and docs."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from opsbook.alerts.generate import RULES_DIR, RULES_FILE, rules_text, suite_text
from opsbook.cli import main
from opsbook.facts import load_facts
from opsbook.project import Project
from opsbook.render import render_site


def opsbook(project: Project, *args: str) -> Result:
    return CliRunner().invoke(main, ["--project", str(project.root), "alerts", *args])


def test_committed_rules_match_the_facts(repo_project: Project) -> None:
    """The file Prometheus loads is exactly what the facts render to."""
    result = opsbook(repo_project, "render", "--check")
    assert result.exit_code == 0, result.output


def test_render_writes_the_default_location(project_copy: Project) -> None:
    result = opsbook(project_copy, "render")
    assert result.exit_code == 0, result.output
    written = project_copy.sandbox_dir / RULES_DIR / RULES_FILE
    assert written.read_text() == rules_text(load_facts(project_copy.facts_dir))
    assert opsbook(project_copy, "render", "--check").exit_code == 0


def test_render_is_deterministic(project_copy: Project, tmp_path: Path) -> None:
    for out in ("a", "b"):
        assert opsbook(project_copy, "render", "--out", str(tmp_path / out)).exit_code == 0
    assert (tmp_path / "a" / RULES_FILE).read_bytes() == (tmp_path / "b" / RULES_FILE).read_bytes()


def test_hand_edit_is_detected_as_drift(project_copy: Project, tmp_path: Path) -> None:
    out = tmp_path / "rules"
    assert opsbook(project_copy, "render", "--out", str(out)).exit_code == 0
    path = out / RULES_FILE
    # the sandbox's rules: error rate warning `for: 2m` x scenarios.for_scale 0.1
    path.write_text(path.read_text().replace("for: 12s", "for: 10m", 1))
    result = opsbook(project_copy, "render", "--out", str(out), "--check")
    assert result.exit_code == 1
    assert f"{RULES_FILE}: differs from a fresh render" in result.output
    assert "-    for: 10m" in result.output and "+    for: 12s" in result.output


def test_missing_generated_file_is_drift(project_copy: Project, tmp_path: Path) -> None:
    result = opsbook(project_copy, "render", "--out", str(tmp_path / "empty"), "--check")
    assert result.exit_code == 1 and "missing" in result.output


def test_alerts_test_runs_promtool(repo_project: Project) -> None:
    result = opsbook(repo_project, "test")
    assert result.exit_code == 0, result.output
    assert "promtool check rules opsbook.rules.yml: ok" in result.output
    assert "promtool test rules opsbook.rules.test.yml: ok" in result.output


def test_a_threshold_change_moves_rule_suite_and_docs_together(project_copy: Project) -> None:
    facts_file = project_copy.facts_dir / "thresholds.yml"
    before = {
        "rules": rules_text(load_facts(project_copy.facts_dir)),
        "suite": suite_text(load_facts(project_copy.facts_dir)),
        "site": render_site(project_copy),
    }
    data = yaml.safe_load(facts_file.read_text())
    assert data["thresholds"]["error_rate"]["warning"] == 2
    data["thresholds"]["error_rate"]["warning"] = 3
    facts_file.write_text(yaml.safe_dump(data, sort_keys=False))
    facts = load_facts(project_copy.facts_dir)
    rules, suite, site = rules_text(facts), suite_text(facts), render_site(project_copy)

    assert "opsbook:error_rate:value > 2\n" in before["rules"]
    assert "opsbook:error_rate:value > 3\n" in rules
    assert "opsbook:error_rate:value > 2\n" not in rules
    assert (
        "error_rate: at_warning (3 %)" in suite
        and "error_rate: at_warning (2 %)" in before["suite"]
    )
    assert "values: 3+0x" in suite  # the at-warning series feeds the new threshold

    def error_rate_row(page: str) -> str:
        return next(line for line in page.splitlines() if line.startswith("| Error rate |"))

    assert "3 %" in error_rate_row(site["monitoring.md"])
    assert "3 %" not in error_rate_row(before["site"]["monitoring.md"])
    assert "**3 %**" in site["troubleshooting.md"]  # the runbook section the alert links to
    assert "**2 %**" in before["site"]["troubleshooting.md"]

    # And the committed file of the copy is now stale: CI would say so.
    out = project_copy.sandbox_dir / RULES_DIR
    out.mkdir(parents=True, exist_ok=True)
    (out / RULES_FILE).write_text(before["rules"])
    assert opsbook(project_copy, "render", "--check").exit_code == 1
