"""Page templates run sandboxed: they read facts, never Python internals; bad bytes are
reported by file and line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

import opsbook.render
from opsbook.cache import DiskCache
from opsbook.facts import load_facts
from opsbook.project import Project
from opsbook.render import RenderError, render_site

ESCAPES = [
    # the classic: a global's function, its module globals, os.system
    "{{{ cycler.__init__.__globals__.os.system('touch MARKER') }}}",
    "{{{ joiner.__init__.__globals__.os.popen('touch MARKER').read() }}}",
    "{{{ namespace.__init__.__globals__['os'].system('touch MARKER') }}}",
    "{{{ lipsum.__globals__['os'].system('touch MARKER') }}}",
    # every class there is, from a string literal
    "{{{ ''.__class__.__mro__[1].__subclasses__() }}}",
    "{{{ ().__class__.__base__.__subclasses__() }}}",
    # the facts are Python objects too
    "{{{ facts.__class__.__init__.__globals__ }}}",
    "{{{ facts.service.__func__.__globals__['__builtins__'] }}}",
    "{{{ snippet.__globals__['os'].system('touch MARKER') }}}",
    "{% set g = cycler.__init__.__globals__ %}{{{ g.os.system('touch MARKER') }}}",
    # attribute lookups through str.format bypass Jinja's own attribute access
    "{{{ '{0.__class__.__mro__}'.format('') }}}",
    "{{{ '{0.__init__.__globals__}'.format(cycler) }}}",
]


@pytest.mark.parametrize("expression", ESCAPES)
def test_template_cannot_reach_python_internals(
    project_copy: Project, tmp_path: Path, expression: str
) -> None:
    marker = tmp_path / "pwned"
    page = project_copy.docs_dir / "evil.md"
    page.write_text("# Evil\n\nSome text.\n" + expression.replace("MARKER", str(marker)) + "\n")
    with pytest.raises(RenderError) as info:
        render_site(project_copy)
    [problem] = info.value.problems
    assert re.match(r"^\S*docs/evil\.md:4: not allowed in a page template", problem), problem
    assert "unsafe" in problem and "\n" not in problem
    assert not marker.exists(), "the template ran a command"


def test_escape_from_a_snippet_names_the_snippet(project_copy: Project, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (project_copy.snippets_dir / "evil.md").write_text(
        f"ok\n{{{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}}}\n"
    )
    (project_copy.docs_dir / "uses-evil.md").write_text('# Page\n\n{{{ snippet("evil.md") }}}\n')
    with pytest.raises(RenderError) as info:
        render_site(project_copy)
    [problem] = info.value.problems
    assert re.match(r"^\S*snippets/evil\.md:2: not allowed in a page template", problem)
    assert not marker.exists()


def test_huge_range_is_refused(project_copy: Project) -> None:
    (project_copy.docs_dir / "big.md").write_text("# Big\n\n{{{ range(10**9) | list }}}\n")
    with pytest.raises(RenderError) as info:
        render_site(project_copy)
    assert re.match(r"^\S*docs/big\.md:3: ", info.value.problems[0])


def test_cli_render_refuses_escape_without_traceback(project_copy: Project, tmp_path) -> None:
    marker = tmp_path / "pwned"
    (project_copy.docs_dir / "evil.md").write_text(
        f"# Evil\n\n{{{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}}}\n"
    )
    run = _opsbook(project_copy, "render")
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    assert re.match(r"^error: docs/evil\.md:3: not allowed in a page template", run.stderr)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("data", "line", "column", "byte"),
    [
        (b"# Page\n\nGood line.\nBad \xff\xfe line.\n", 4, 5, "0xff"),
        (b"\xff\xfe#\x00 \x00P\x00a\x00g\x00e\x00\n\x00", 1, 1, "0xff"),  # UTF-16
        (b"# Caf\xe9\n", 1, 6, "0xe9"),  # Latin-1
        ("# Gr\u00fc\u00dfe\n\n".encode() + b"\xc3\n", 3, 1, "0xc3"),  # cut-off character
    ],
)
def test_page_that_is_not_utf8_names_page_and_line(
    project_copy: Project, data: bytes, line: int, column: int, byte: str
) -> None:
    (project_copy.docs_dir / "x.md").write_bytes(data)
    with pytest.raises(RenderError) as info:
        render_site(project_copy)
    [problem] = info.value.problems
    assert re.match(rf"^\S*docs/x\.md:{line}: not valid UTF-8 \(byte {byte} at column "
                    rf"{column}\)", problem), problem
    assert "\\x" not in problem and "Page" not in problem  # the page is not dumped


@pytest.mark.parametrize(
    "use", ['{{{ snippet("latin.md") }}}', '{% include "snippets/latin.md" %}'],
)
def test_snippet_that_is_not_utf8_names_the_snippet(project_copy: Project, use: str) -> None:
    (project_copy.snippets_dir / "latin.md").write_bytes(b"fine\nna\xefve\n")
    (project_copy.docs_dir / "x.md").write_text(f"# X\n\n{use}\n")
    with pytest.raises(RenderError) as info:
        render_site(project_copy)
    [problem] = info.value.problems
    assert re.match(r"^\S*snippets/latin\.md:2: not valid UTF-8", problem), problem


def test_cli_render_on_non_utf8_page(project_copy: Project) -> None:
    (project_copy.docs_dir / "x.md").write_bytes(b"# X\n\nok\n\xff\xfe\n")
    run = _opsbook(project_copy, "render")
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    assert run.stderr.startswith("error: docs/x.md:4: not valid UTF-8")
    assert len(run.stderr.splitlines()) == 1


def test_sandbox_renders_every_page_as_before(
    project_copy: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox changes nothing a real page does: same bytes as a plain Environment."""
    sandboxed = render_site(project_copy)
    monkeypatch.setattr(opsbook.render, "_Sandbox", jinja2.Environment)
    monkeypatch.setattr(opsbook.render, "_bytecode_cache", lambda project: None)
    monkeypatch.setattr(opsbook.render, "_render_cache", lambda project: DiskCache(None))
    renderer = opsbook.render.Renderer(project_copy, load_facts(project_copy.facts_dir))
    assert type(renderer.env) is jinja2.Environment
    assert renderer.render_all() == sandboxed


def test_the_sandbox_remembers_verdicts_not_values(project_copy: Project) -> None:
    """Attribute verdicts are kept per (type, name): an unsafe name stays refused after a
    safe one on the same type, and the same name on another type is judged anew."""
    env = opsbook.render.Renderer(project_copy, load_facts(project_copy.facts_dir)).env
    assert env.is_safe_attribute("", "upper", None)
    assert not env.is_safe_attribute("", "__class__", None)
    assert not env.is_safe_attribute("", "__class__", None)  # from the memory, still no
    assert not env.is_safe_attribute([], "append", None)  # immutable sandbox: mutating
    assert env.is_safe_attribute((), "count", None)


def test_sandboxed_code_has_its_own_bytecode_cache(project_copy: Project) -> None:
    render_site(project_copy)
    cached = [p.name for p in (project_copy.state_dir / "jinja-cache").iterdir()]
    assert cached and all(name.startswith("__opsbook_sandboxed_") for name in cached)


def _opsbook(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsbook", "--project", str(project.root), *args],
                          capture_output=True, text=True, timeout=60, cwd=project.root)


def test_a_template_cannot_change_the_facts_other_pages_see(project_copy: Project) -> None:
    evil = "# E\n\n{{{ environments.pop('production') }}}\n"
    (project_copy.docs_dir / "evil.md").write_text(evil)
    with pytest.raises(RenderError) as info:
        render_site(project_copy)
    assert any("evil.md:3" in p for p in info.value.problems), info.value.problems
