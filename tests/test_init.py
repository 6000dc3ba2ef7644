"""`opsbook init` on an existing MkDocs project: adds what is missing, overwrites nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from opsbook.cli import main
from opsbook.facts import load_facts
from opsbook.init import STARTER, add_item, init_project
from opsbook.project import Project
from tests.helpers import build

PLAIN = """# A team's existing site
site_name: Team runbooks
nav:
  - Home: index.md
  - Deploy: ops/deploy.md
"""
PAGES = {
    "index.md": "# Home\n\nWelcome.\n",
    "ops/deploy.md": "# Deploy\n\n```bash\necho deploy\n```\n\n> ```sh\n> echo quoted\n> ```\n",
}


def _plain_site(root: Path) -> Path:
    root.mkdir(exist_ok=True)
    (root / "mkdocs.yml").write_text(PLAIN)
    for rel, text in PAGES.items():
        (root / "docs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "docs" / rel).write_text(text)
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and "site" not in p.parts}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("site_name: x\n", "site_name: x\n\nplugins:\n  - search\n  - opsbook\n"),
        ("plugins:\n  - search  # keep\ntheme: mkdocs\n",
         "plugins:\n  - search  # keep\n  - opsbook\ntheme: mkdocs\n"),
        ("plugins:\n- search\n", "plugins:\n- search\n- opsbook\n"),
        ("plugins: [search, tags]\n", "plugins:\n  - search\n  - tags\n  - opsbook\n"),
        ("plugins:\n    search: {}\n", "plugins:\n    search: {}\n    opsbook: {}\n"),
        ("plugins:\n  - search\n  - opsbook:\n      adopt: [ops/]\n", None),
    ],
)
def test_add_item_keeps_the_file_as_written(before: str, after: str | None) -> None:
    assert add_item(before, "plugins", "opsbook", ("search",)) == after


def test_init_then_strict_build_and_blocks_list(tmp_path: Path) -> None:
    root = _plain_site(tmp_path / "site-src")
    result = CliRunner().invoke(main, ["init", str(root)])
    assert result.exit_code == 0, result.output
    assert "What would run (2 pages" in result.output and "run" in result.output
    config = yaml.safe_load((root / "mkdocs.yml").read_text())
    assert config["plugins"] == ["search", "opsbook"]
    assert "pymdownx.superfences" in config["markdown_extensions"]
    assert (root / "mkdocs.yml").read_text().startswith("# A team's existing site\n")
    load_facts(root / "facts")  # the starter facts validate
    assert (root / "sandbox" / "compose.yaml").is_file() and (root / "noxfile.py").is_file()
    assert "--opsbook" in (root / "pytest.ini").read_text()

    built = build(Project(root), tmp_path / "out")
    assert built.returncode == 0, built.stderr
    assert "WARNING" not in built.stderr, built.stderr
    html = (tmp_path / "out" / "ops" / "deploy" / "index.html").read_text()
    quote = html.split("<blockquote>")[1].split("</blockquote>")[0]
    assert "<code>" in quote and "quoted" in quote  # the quoted fence is code on the site

    listed = CliRunner().invoke(main, ["--project", str(root), "blocks", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.stdout)
    assert [(r["id"], r["classification"]) for r in data["blocks"]] == [
        ("ops/deploy.md:3", "run"), ("ops/deploy.md:7", "run")]


def test_init_twice_changes_nothing_and_force_restores(tmp_path: Path) -> None:
    root = _plain_site(tmp_path)
    init_project(root)
    (root / "facts" / "services.yml").write_text(
        (root / "facts" / "services.yml").read_text() + "# edited by the team\n")
    before = _snapshot(root)
    again = init_project(root)
    assert {c.action for c in again} == {"kept"}, again
    assert _snapshot(root) == before
    forced = init_project(root, force=True)
    assert any(c.path == "facts/services.yml" and c.action == "overwritten" for c in forced)
    assert (root / "facts" / "services.yml").read_text() == (
        STARTER / "facts" / "services.yml").read_text()


def test_an_existing_compose_file_is_pointed_at(tmp_path: Path) -> None:
    root = _plain_site(tmp_path)
    (root / "docker-compose.yml").write_text("services: {}\n")
    init_project(root)
    compose = yaml.safe_load((root / "sandbox" / "compose.yaml").read_text())
    assert compose == {"include": ["../docker-compose.yml"]}


def test_init_outside_a_mkdocs_project_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "no mkdocs.yml here" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_starter_facts_are_the_reference_platforms() -> None:
    """They are a copy (an installed package has no facts/ of ours): kept in step here."""
    repo = Path(__file__).resolve().parents[1]
    starter = repo / "src" / "opsbook" / "starter" / "facts"
    names = sorted(p.name for p in (repo / "facts").glob("*.yml"))
    assert sorted(p.name for p in starter.glob("*.yml")) == names
    for name in names:
        body = (starter / name).read_text().split("\n", 2)[2]  # below the two-line header
        assert body == (repo / "facts" / name).read_text(), (
            f"src/opsbook/starter/facts/{name} differs from facts/{name}: copy it again"
        )
