"""Rendering: facts reach every page, foreign braces survive, mistakes name page and line."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from opsbook.errors import OpsbookError
from opsbook.facts import load_facts
from opsbook.project import Project
from opsbook.render import Renderer, RenderError, duration_seconds, human_duration, render_site
from tests.helpers import replace_in


def template_sources(project: Project) -> dict[str, str]:
    files = [*project.docs_dir.rglob("*.md"), *project.snippets_dir.rglob("*")]
    return {str(p): p.read_text() for p in files if p.is_file()}


def test_every_page_renders(repo_project: Project) -> None:
    pages = render_site(repo_project)
    assert {"index.md", "monitoring.md", "deployment.md"} <= set(pages)
    for text in pages.values():
        assert "{{{" not in text and "{%" not in text


@pytest.mark.parametrize(
    ("threshold", "level", "new"),
    [("error_rate", "warning", 3.25), ("latency_p99", "critical", 4.5),
     ("queue_depth", "normal", 123)],
)
def test_threshold_change_reaches_every_page_and_no_template_hardcodes_it(
    project_copy: Project, threshold: str, level: str, new: float
) -> None:
    facts = load_facts(project_copy.facts_dir)
    t = facts.thresholds[threshold]
    old_text, new_text = t.show(getattr(t, level)), t.show(new)
    before = render_site(project_copy)
    shown_on = {page for page, text in before.items() if old_text in text}
    assert "monitoring.md" in shown_on  # the threshold table shows every value

    # No template or snippet writes the value itself; it always comes from the facts.
    for path, source in template_sources(project_copy).items():
        assert old_text not in source, f"{path} hard-codes {old_text!r}"

    thresholds = project_copy.facts_dir / "thresholds.yml"
    block = thresholds.read_text().split(f"  {threshold}:\n", 1)[1]
    old_line = next(line for line in block.splitlines() if line.startswith(f"    {level}: "))
    replace_in(thresholds, f"  {threshold}:\n" + block.split(old_line)[0] + old_line,
               f"  {threshold}:\n" + block.split(old_line)[0] + f"    {level}: {new}")

    after = render_site(project_copy)
    for page in shown_on:
        assert before[page].count(old_text) == after[page].count(new_text), page
        assert old_text not in after[page], page
    assert {p for p, text in after.items() if new_text in text} == shown_on


def test_foreign_braces_pass_through_byte_for_byte(project_copy: Project) -> None:
    commands = [
        "docker inspect --format '{{.State.Health.Status}}' api",
        "echo ${#ARRAY[@]} {{ .Labels.alertname }} ${{ secrets.TOKEN }} awk '{print $1}'",
    ]
    page = project_copy.docs_dir / "braces.md"
    page.write_text("# Braces\n\n```bash\n" + "\n".join(commands) +
                    "\ncurl http://127.0.0.1:{{{ service('api').port }}}/\n```\n")
    text = render_site(project_copy)["braces.md"]
    for command in commands:
        assert command + "\n" in text
    assert "curl http://127.0.0.1:18001/\n" in text


def test_undefined_name_fails_with_page_and_line(project_copy: Project) -> None:
    page = project_copy.docs_dir / "deployment.md"
    lines = page.read_text().splitlines()
    lines.insert(4, "Port: {{{ facts.service('api').nonexistent_port }}}")
    page.write_text("\n".join(lines) + "\n")
    with pytest.raises(RenderError) as info:
        render_site(project_copy)
    [problem] = info.value.problems
    assert re.match(r"^\S*docs/deployment\.md:5: undefined name: ", problem), problem
    assert "nonexistent_port" in problem


def test_undefined_name_in_a_snippet_names_the_snippet(project_copy: Project) -> None:
    replace_in(project_copy.snippets_dir / "health-check.md", 'service("api").health.live',
               "no_such_fact")
    with pytest.raises(RenderError) as info:
        render_site(project_copy)
    assert info.value.problems, "an undefined name must fail"
    for problem in info.value.problems:
        assert re.match(r"^\S*snippets/health-check\.md:2: undefined name: ", problem), problem


def test_template_syntax_error_names_page_and_line(project_copy: Project) -> None:
    (project_copy.docs_dir / "bad.md").write_text("# Bad\n\n{% for x in %}\n")
    with pytest.raises(RenderError) as info:
        render_site(project_copy)
    assert re.match(r"^\S*docs/bad\.md:3: template syntax error", info.value.problems[0])


def test_snippets_render_with_the_same_facts_and_indent_in_tabs(project_copy: Project) -> None:
    page = project_copy.docs_dir / "tabs.md"
    page.write_text('# Tabs\n\n=== "Docker Compose"\n\n'
                    '    {{{ snippet("health-check.md") | indent(4) }}}\n')
    text = render_site(project_copy)["tabs.md"]
    assert '    ```bash\n    curl -fsS "$API_URL/health/live"\n' in text


def test_durations() -> None:
    assert human_duration("1h30m") == "1 hour 30 minutes"
    assert human_duration("5m") == "5 minutes"
    assert duration_seconds("2m") == 120
    with pytest.raises(ValueError):
        human_duration("5 minutes")


def test_render_cli_out_and_check(project_copy: Project, tmp_path) -> None:
    out = tmp_path / "rendered"
    run = _opsbook(project_copy, "render", "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert (out / "monitoring.md").read_text() == Renderer(
        project_copy, load_facts(project_copy.facts_dir)).render_page("monitoring.md")
    assert _opsbook(project_copy, "render", "--out", str(out), "--check").returncode == 0
    replace_in(project_copy.facts_dir / "thresholds.yml", "    warning: 500", "    warning: 600")
    stale = _opsbook(project_copy, "render", "--out", str(out), "--check")
    assert stale.returncode == 1
    assert "differs from a fresh render" in stale.stderr
    assert len(stale.stderr.strip().splitlines()) >= 2  # monitoring and scaling show it


def test_render_cli_reports_undefined_name(project_copy: Project) -> None:
    (project_copy.docs_dir / "oops.md").write_text("# Oops\n\n{{{ nope }}}\n")
    run = _opsbook(project_copy, "render")
    assert run.returncode == 1
    assert run.stderr.startswith("error: ") and "oops.md:3: undefined name" in run.stderr


def test_errors_are_opsbook_errors() -> None:
    assert issubclass(RenderError, OpsbookError)


def _opsbook(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsbook", "--project", str(project.root), *args],
                          capture_output=True, text=True, timeout=60, cwd=project.root)


# -- the render cache -------------------------------------------------------------------------


def _cached_render(project: Project, monkeypatch: pytest.MonkeyPatch, **kwargs) -> dict[str, str]:
    """Every page rendered by a new Renderer that may not run Jinja for any page: each
    page it returns came from the render cache; pages it had to render are left out."""
    renderer = Renderer(project, load_facts(project.facts_dir), **kwargs)
    miss = "NOT FROM THE CACHE"
    monkeypatch.setattr(renderer, "_render", lambda page: miss)
    monkeypatch.setattr(renderer, "_store", lambda *args: None)
    return {p: t for p in renderer.pages() if (t := renderer.render_page(p)) != miss}


def test_unchanged_pages_come_from_the_render_cache(
    project_copy: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = render_site(project_copy)
    assert _cached_render(project_copy, monkeypatch) == first


def test_a_changed_input_misses_before_anything_refills_it(
    project_copy: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    render_site(project_copy)
    replace_in(project_copy.docs_dir / "scaling.md", "# ", "# Edited ")
    (project_copy.snippets_dir / "health-check.md").write_text(
        (project_copy.snippets_dir / "health-check.md").read_text() + "\nedited\n")
    served = _cached_render(project_copy, monkeypatch)
    fresh = render_site(project_copy)
    assert "scaling.md" not in served
    assert all(served[p] == fresh[p] for p in served)
    assert all("edited" not in fresh[p] for p in served), "a page with the snippet was served"
    replace_in(project_copy.facts_dir / "thresholds.yml", "warning: 2\n", "warning: 3\n")
    assert _cached_render(project_copy, monkeypatch) == {}


def test_a_new_file_that_shadows_a_snippet_is_noticed(
    project_copy: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project_copy.docs_dir / "uses.md").write_text('# U\n\n{% include "snippets/x.md" %}\n')
    (project_copy.snippets_dir / "x.md").write_text("from the snippets folder\n")
    assert "from the snippets folder" in render_site(project_copy)["uses.md"]
    # docs/ is searched first: a docs/snippets/x.md now wins
    (project_copy.docs_dir / "snippets").mkdir()
    (project_copy.docs_dir / "snippets" / "x.md").write_text("from docs\n")
    assert "uses.md" not in _cached_render(project_copy, monkeypatch)


def test_a_template_missing_at_the_last_render_is_noticed_when_it_appears(
    project_copy: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project_copy.docs_dir / "opt.md").write_text(
        '# O\n\n{% include "snippets/later.md" ignore missing %}\nend\n')
    render_site(project_copy)
    assert "opt.md" in _cached_render(project_copy, monkeypatch)
    (project_copy.snippets_dir / "later.md").write_text("now here\n")
    assert "opt.md" not in _cached_render(project_copy, monkeypatch)
    assert "now here" in render_site(project_copy)["opt.md"]


def test_run_results_are_part_of_the_key(
    project_copy: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsbook.harness.model import RunResults

    results = RunResults(time="2026-01-01T00:00:00+00:00", commit="abc", blocks=[])
    renderer = Renderer(project_copy, load_facts(project_copy.facts_dir), results)
    renderer.render_all()
    assert _cached_render(project_copy, monkeypatch, results=results)
    other = RunResults(time="2026-01-02T00:00:00+00:00", commit="def", blocks=[])
    assert _cached_render(project_copy, monkeypatch, results=other) == {}
    assert _cached_render(project_copy, monkeypatch) == {}  # without results: its own entries


def test_a_damaged_render_cache_is_ignored(project_copy: Project) -> None:
    first = render_site(project_copy)
    for f in project_copy.state_dir.rglob("*"):
        if f.is_file():
            f.write_bytes(b"\x80\x04\x95 damaged")
    assert render_site(project_copy) == first
    (project_copy.state_dir / "render-cache.pickle").unlink()
    assert render_site(project_copy) == first


def test_pages_with_the_same_source_still_name_their_own_file(project_copy: Project) -> None:
    for name in ("a.md", "b/a.md"):
        (project_copy.docs_dir / name).parent.mkdir(exist_ok=True)
        (project_copy.docs_dir / name).write_text("# Same\n\n{{{ no_such_name }}}\n")
    with pytest.raises(RenderError) as info:
        render_site(project_copy)
    problems = info.value.problems
    assert any(re.match(r"^\S*docs/a\.md:3: undefined name", p) for p in problems), problems
    assert any(re.match(r"^\S*docs/b/a\.md:3: undefined name", p) for p in problems), problems
