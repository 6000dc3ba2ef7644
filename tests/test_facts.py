"""Facts: the merged model loads, and every kind of bad input is reported with file:line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from opsbook.facts import FactsError, load_facts
from opsbook.project import Project
from tests.helpers import replace_in


def problems_for(facts_dir: Path) -> list[str]:
    with pytest.raises(FactsError) as info:
        load_facts(facts_dir)
    return info.value.problems


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def test_repository_facts_are_valid(repo_project: Project) -> None:
    facts = load_facts(repo_project.facts_dir)
    assert facts.service("api").port == 18001
    assert facts.thresholds["error_rate"].warning == 2
    assert facts.thresholds["cache_hit_rate"].op == "<"
    assert [s.id for s in facts.severities] == ["P0", "P1", "P2", "P3"]
    assert set(facts.remote_environments) == {"staging", "production"}


def test_wrong_type_names_file_line_and_key(project_copy: Project) -> None:
    thresholds = project_copy.facts_dir / "thresholds.yml"
    replace_in(thresholds, "    normal: 0.5", '    normal: "fast"')
    [problem] = problems_for(project_copy.facts_dir)
    line = line_of(thresholds, 'normal: "fast"')
    assert problem.startswith(f"{_rel(thresholds)}:{line}: thresholds.latency_p95.normal: ")
    assert "valid number" in problem and "'fast'" in problem


def test_string_number_is_rejected_not_coerced(project_copy: Project) -> None:
    services = project_copy.facts_dir / "services.yml"
    replace_in(services, "port: 18001", 'port: "18001"')
    [problem] = problems_for(project_copy.facts_dir)
    assert "services.0.port" in problem and "valid integer" in problem


def test_unknown_key_is_reported_at_its_own_line(project_copy: Project) -> None:
    thresholds = project_copy.facts_dir / "thresholds.yml"
    replace_in(thresholds, "    unit: jobs\n", "    unit: jobs\n    colour: red\n")
    [problem] = problems_for(project_copy.facts_dir)
    assert problem.startswith(f"{_rel(thresholds)}:{line_of(thresholds, 'colour: red')}: ")
    assert "thresholds.queue_depth.colour: unknown key" in problem


def test_warning_above_critical_points_at_warning(project_copy: Project) -> None:
    thresholds = project_copy.facts_dir / "thresholds.yml"
    replace_in(thresholds, "    warning: 500", "    warning: 1500")
    [problem] = problems_for(project_copy.facts_dir)
    assert problem.startswith(f"{_rel(thresholds)}:{line_of(thresholds, 'warning: 1500')}: ")
    assert "thresholds.queue_depth.warning" in problem
    assert "strictly between normal (100) and critical (1000)" in problem


def test_lower_is_worse_direction_is_checked(project_copy: Project) -> None:
    thresholds = project_copy.facts_dir / "thresholds.yml"
    # cache hit rate: lower is worse, so a critical above normal is a mistake
    replace_in(thresholds, "    normal: 80\n    warning: 60\n    critical: 40",
               "    normal: 40\n    warning: 60\n    critical: 80")
    [problem] = problems_for(project_copy.facts_dir)
    assert "thresholds.cache_hit_rate.critical" in problem and "below normal" in problem


@pytest.mark.parametrize("steps", ["[5, 25, 50]", "[25, 5, 100]", "[5, 5, 100]"])
def test_canary_steps_must_rise_to_100(project_copy: Project, steps: str) -> None:
    deployment = project_copy.facts_dir / "deployment.yml"
    replace_in(deployment, "canary_steps: [5, 25, 50, 100]", f"canary_steps: {steps}")
    [problem] = problems_for(project_copy.facts_dir)
    assert problem.startswith(f"{_rel(deployment)}:{line_of(deployment, 'canary_steps: ')}: ")
    assert "deployment.canary_steps: " in problem and "rise step by step and end at 100" in problem


def test_port_range_and_duplicates(project_copy: Project) -> None:
    services = project_copy.facts_dir / "services.yml"
    replace_in(services, "port: 16379", "port: 70000")
    [problem] = problems_for(project_copy.facts_dir)
    assert "services.3.port" in problem and "65535" in problem

    replace_in(services, "port: 70000", "port: 16379")
    replace_in(services, "port: 19093", "port: 18001")
    [problem] = problems_for(project_copy.facts_dir)
    second = [n for n, line in enumerate(services.read_text().splitlines(), 1)
              if line == "    port: 18001"][-1]
    assert f"services.yml:{second}: " in problem  # the duplicate, not the original
    assert "services.5.port" in problem and "already published by service 'api'" in problem


def test_replica_port_ranges_must_not_overlap(project_copy: Project) -> None:
    services = project_copy.facts_dir / "services.yml"
    # the worker publishes 19100-19103 (4 replicas); 19102 collides with its range
    replace_in(services, "port: 19090", "port: 19102")
    [problem] = problems_for(project_copy.facts_dir)
    assert "services.4.port" in problem
    assert "19102 is already published by service 'worker'" in problem


def test_duplicate_service_name(project_copy: Project) -> None:
    services = project_copy.facts_dir / "services.yml"
    replace_in(services, "- name: worker", "- name: api")
    [problem] = problems_for(project_copy.facts_dir)
    assert "services.1.name" in problem and "already used" in problem


def test_yaml_syntax_error_and_other_problems_are_all_reported(project_copy: Project) -> None:
    facts_dir = project_copy.facts_dir
    (facts_dir / "backup.yml").write_text("backup:\n  schedule: [unclosed\n")
    replace_in(facts_dir / "thresholds.yml", "    warning: 500", "    warning: 1500")
    replace_in(facts_dir / "thresholds.yml", "    normal: 0.5", '    normal: "fast"')
    problems = problems_for(facts_dir)
    assert len(problems) == 3, problems
    assert problems[0].startswith(f"{_rel(facts_dir / 'backup.yml')}:3: YAML syntax error")
    for problem in problems:
        assert re.match(r"^\S+\.yml:\d+: ", problem), problem


def test_key_repeated_in_one_mapping(project_copy: Project) -> None:
    backup = project_copy.facts_dir / "backup.yml"
    replace_in(backup, "  rpo: 6h\n", "  rpo: 6h\n  rpo: 2h\n")
    [problem] = problems_for(project_copy.facts_dir)
    line = line_of(backup, "rpo: 2h")
    assert problem.startswith(f"{_rel(backup)}:{line}: backup.rpo: key repeated")


def test_top_level_key_in_two_files(project_copy: Project) -> None:
    extra = project_copy.facts_dir / "more.yml"
    extra.write_text("backup:\n  rpo: 1h\n")
    [problem] = problems_for(project_copy.facts_dir)
    assert problem.startswith(f"{_rel(extra)}:1: backup: already defined at ")


def test_cli_check_prints_one_line_per_problem_and_fails(project_copy: Project) -> None:
    thresholds = project_copy.facts_dir / "thresholds.yml"
    replace_in(thresholds, "    warning: 500", "    warning: 1500")
    replace_in(thresholds, "    normal: 0.5", '    normal: "fast"')
    result = _opsbook(project_copy, "facts", "check")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert all(line.startswith("error: ") and "thresholds.yml:" in line for line in lines)


def test_cli_check_and_show_on_good_facts(project_copy: Project) -> None:
    ok = _opsbook(project_copy, "facts", "check")
    assert ok.returncode == 0 and "facts OK" in ok.stdout
    shown = _opsbook(project_copy, "facts", "show", "thresholds.error_rate.warning")
    assert shown.stdout.strip() == "2.0"
    section = _opsbook(project_copy, "facts", "show", "services.0")
    assert "name: api" in section.stdout and "port: 18001" in section.stdout
    missing = _opsbook(project_copy, "facts", "show", "thresholds.nope")
    assert missing.returncode == 1 and "no key 'nope'" in missing.stderr


def _opsbook(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsbook", "--project", str(project.root), *args],
        capture_output=True, text=True, timeout=60, cwd=project.root,
    )


def _rel(path: Path) -> str:
    import os

    return os.path.relpath(path)


# --- backup: continuous archiving (disaster-recovery.md) --------------------------------


def test_archive_facts_and_their_folders(repo_project: Project) -> None:
    archive = load_facts(repo_project.facts_dir).backup.archive
    assert archive.wal == f"{archive.directory}/wal"
    assert archive.base == f"{archive.directory}/base"


def test_archive_timeout_must_be_shorter_than_the_rpo(project_copy: Project) -> None:
    backup = project_copy.facts_dir / "backup.yml"
    replace_in(backup, "    timeout: 10s\n", "    timeout: 6h\n")
    [problem] = problems_for(project_copy.facts_dir)
    line = line_of(backup, "timeout: 6h")
    assert problem.startswith(f"{_rel(backup)}:{line}: backup.archive.timeout: "), problem
    assert "must be shorter than the rpo (6h)" in problem


def test_objectives_must_be_longer_than_zero(project_copy: Project) -> None:
    backup = project_copy.facts_dir / "backup.yml"
    replace_in(backup, "  rto: 1h\n", "  rto: 0s\n")
    [problem] = problems_for(project_copy.facts_dir)
    assert problem.startswith(f"{_rel(backup)}:{line_of(backup, 'rto: 0s')}: backup.rto: ")
    assert "longer than zero" in problem


def test_archive_directory_must_be_absolute(project_copy: Project) -> None:
    backup = project_copy.facts_dir / "backup.yml"
    replace_in(backup, "    directory: /var/lib/postgresql/archive\n", "    directory: archive\n")
    [problem] = problems_for(project_copy.facts_dir)
    line = line_of(backup, "directory: archive")
    assert problem.startswith(f"{_rel(backup)}:{line}: backup.archive.directory: "), problem


def test_compose_archives_where_and_as_often_as_the_facts_say(repo_project: Project) -> None:
    """The sandbox's PostgreSQL settings are in compose.yaml; the pages read the facts."""
    import yaml

    from opsbook.facts.durations import duration_seconds

    archive = load_facts(repo_project.facts_dir).backup.archive
    compose = yaml.safe_load((repo_project.sandbox_dir / "compose.yaml").read_text())
    service = compose["services"]["postgres"]
    args = service["command"]
    settings = dict(a.split("=", 1) for flag, a in zip(args, args[1:], strict=False)
                    if flag == "-c")
    assert settings["archive_mode"] == "on"
    assert settings["wal_level"] == "replica"
    assert settings["archive_command"] == (
        f"test ! -f {archive.wal}/%f && cp %p {archive.wal}/%f"
    )
    assert settings["restore_command"] == f"cp {archive.wal}/%f %p"
    assert settings["archive_timeout"] == f"{duration_seconds(archive.timeout)}s"
    assert f"pgarchive:{archive.directory}" in service["volumes"]
