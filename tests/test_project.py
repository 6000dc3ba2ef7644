"""One way to find the project, shared by the CLI and both plugins."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from opsbook.cli import main
from opsbook.errors import OpsbookError
from opsbook.project import Project, find_project


def test_flag_wins_over_environment_which_wins_over_cwd(
    project_copy: Project, repo_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo_project.root / "docs")
    assert find_project() == Project(repo_project.root)  # the current directory, upward
    monkeypatch.setenv("OPSBOOK_PROJECT", str(tmp_path / "nowhere"))
    with pytest.raises(OpsbookError, match=r"nowhere \(from \$OPSBOOK_PROJECT\)"):
        find_project()
    assert find_project(project_copy.root / "facts") == project_copy  # the flag wins


def test_cli_project_flag_wins_over_opsbook_project(
    project_copy: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("OPSBOOK_PROJECT", str(other))
    monkeypatch.chdir(tmp_path)
    (project_copy.facts_dir / "services.yml").write_text(
        (project_copy.facts_dir / "services.yml").read_text().replace("port: 18001", "port: 18123")
    )
    result = CliRunner().invoke(
        main, ["--project", str(project_copy.root), "facts", "show", "services.0.port"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "18123"
    # without the flag, $OPSBOOK_PROJECT is used, and its error names where it came from
    result = CliRunner().invoke(main, ["facts", "show"])
    assert result.exit_code == 1
    assert "(from $OPSBOOK_PROJECT)" in result.output
