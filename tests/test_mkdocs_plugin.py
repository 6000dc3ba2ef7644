"""The MkDocs adapter: strict builds pass clean, and every failure stops the build loudly."""

from __future__ import annotations

from pathlib import Path

from opsbook.project import Project
from tests.helpers import build, replace_in


def snapshot(path: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in path.rglob("*")}


def test_strict_build_has_zero_warnings_and_leaves_docs_untouched(
    project_copy: Project, tmp_path: Path
) -> None:
    before = snapshot(project_copy.docs_dir)
    result = build(project_copy, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    assert snapshot(project_copy.docs_dir) == before  # rendered in memory only
    html = (tmp_path / "site" / "monitoring" / "index.html").read_text()
    assert "{{{" not in html and "2 %" in html  # error-rate warning, from the facts


def test_docker_inspect_format_survives_to_html(project_copy: Project, tmp_path: Path) -> None:
    (project_copy.docs_dir / "inspect.md").write_text(
        "# Inspect\n\n```bash\ndocker inspect --format '{{.State.Health.Status}}' api\n```\n")
    replace_in(project_copy.root / "mkdocs.yml", "      - Monitoring and alerts: monitoring.md",
               "      - Monitoring and alerts: monitoring.md\n      - Inspect: inspect.md")
    result = build(project_copy, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "site" / "inspect" / "index.html").read_text()
    # highlighted HTML splits tokens into spans; the brace text itself must be intact
    assert "{{.State.Health.Status}}" in html


def test_broken_facts_stop_the_build_and_nothing_is_built(
    project_copy: Project, tmp_path: Path
) -> None:
    thresholds = project_copy.facts_dir / "thresholds.yml"
    replace_in(thresholds, "    warning: 500", "    warning: 1500")
    replace_in(thresholds, "    normal: 0.5", '    normal: "fast"')
    site = tmp_path / "site"
    result = build(project_copy, site)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert any("thresholds.yml:" in e and "queue_depth.warning" in e for e in errors), errors
    assert any("thresholds.yml:" in e and "latency_p95.normal" in e for e in errors), errors
    assert not (site / "index.html").exists()


def test_undefined_name_fails_the_build_naming_page_and_line(
    project_copy: Project, tmp_path: Path
) -> None:
    page = project_copy.docs_dir / "scaling.md"
    lines = page.read_text().splitlines()
    lines.insert(6, "Workers: {{{ deployment.max_workers }}}")
    page.write_text("\n".join(lines) + "\n")
    result = build(project_copy, tmp_path / "site")
    assert result.returncode != 0
    assert "docs/scaling.md:7: undefined name:" in result.stderr, result.stderr
    assert "max_workers" in result.stderr
