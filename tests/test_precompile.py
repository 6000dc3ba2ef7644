"""A cold build's templates compiled in a child: the same pages, the same errors, no child
left behind, and no child where one would not pay or would not be safe."""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading

import pytest

from opsbook import precompile
from opsbook.facts import load_facts
from opsbook.precompile import Precompiler
from opsbook.project import Project
from opsbook.render import Renderer, RenderError


@pytest.fixture
def single_threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process as `mkdocs build` runs it: one thread. A test session may hold threads
    that earlier tests left (servers, pumps); the child below only compiles, and the
    refusal itself is tested with a thread of its own."""
    monkeypatch.setattr(precompile.threading, "active_count", lambda: 1)


def cold_renderer(project: Project) -> Renderer:
    shutil.rmtree(project.state_dir, ignore_errors=True)
    return Renderer(project, load_facts(project.facts_dir))


def reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def precompiling(project: Project) -> tuple[Renderer, Precompiler]:
    """A renderer of the cold project with its compiling child started."""
    renderer = cold_renderer(project)
    renderer.precompile()
    child = renderer.loader.precompiler
    assert child is not None, "a cold site of many templates should start a child"
    return renderer, child


def test_pages_rendered_with_the_childs_code_equal_pages_compiled_here(
    project_copy: Project, single_threaded: None
) -> None:
    expected = cold_renderer(project_copy).render_all()
    renderer, child = precompiling(project_copy)
    compiled_here: list[str] = []
    compile_ = renderer.env.compile
    renderer.env.compile = lambda source, name=None, filename=None, **kw: (  # type: ignore[method-assign]
        compiled_here.append(name) or compile_(source, name, filename, **kw))
    assert renderer.render_all() == expected
    assert compiled_here == [], "every template's code should have come from the child"
    assert renderer.loader.precompiler is None and reaped(child.pid)


def test_a_warm_site_starts_no_child(project_copy: Project) -> None:
    cold_renderer(project_copy).render_all()
    renderer = Renderer(project_copy, load_facts(project_copy.facts_dir))
    renderer.precompile()
    assert renderer.loader.precompiler is None


def test_a_template_that_does_not_compile_reads_as_without_a_child(
    project_copy: Project, single_threaded: None
) -> None:
    (project_copy.docs_dir / "bad.md").write_text("# Bad\n\n{% for x in %}\n")
    renderer, _ = precompiling(project_copy)
    with pytest.raises(RenderError) as info:
        renderer.render_all()
    assert [p for p in info.value.problems if re.match(
        r"^\S*docs/bad\.md:3: template syntax error", p)], info.value.problems


def test_a_child_that_dies_leaves_the_parent_to_compile(
    project_copy: Project, single_threaded: None
) -> None:
    expected = cold_renderer(project_copy).render_all()
    renderer, child = precompiling(project_copy)
    os.kill(child.pid, signal.SIGKILL)
    assert renderer.render_all() == expected
    assert reaped(child.pid)


def test_a_stuck_child_is_ended_after_the_wait(
    monkeypatch: pytest.MonkeyPatch, single_threaded: None
) -> None:
    monkeypatch.setattr(precompile, "WAIT", 0.2)
    jobs = [(str(n), f"{n}", f"t{n}", None) for n in range(precompile.MIN_TEMPLATES)]
    child = Precompiler.start(lambda *_: signal.pause(), jobs)  # type: ignore[arg-type, return-value]
    assert child is not None
    assert child.take("0") is None
    assert reaped(child.pid)


def test_no_child_for_few_templates_or_beside_other_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def compile_(source: str, name: str, filename: str | None):  # noqa: ANN202
        return compile(source, name, "exec")

    few = [(str(n), "x = 1", f"t{n}", None) for n in range(precompile.MIN_TEMPLATES - 1)]
    assert Precompiler.start(compile_, few) is None
    enough = few + [("last", "x = 2", "last", None)]
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert Precompiler.start(compile_, enough) is None
    finally:
        stop.set()
        other.join()
    monkeypatch.setattr(precompile.threading, "active_count", lambda: 1)  # as single_threaded
    child = Precompiler.start(compile_, enough)
    assert child is not None
    code = child.take("last")
    assert code is not None
    space: dict[str, int] = {}
    exec(code, space)  # noqa: S102 - our own two-line test source
    assert space["x"] == 2
    child.close()
    assert reaped(child.pid)
