"""`opsbook blocks list` over folders of an existing doc set: every block, every problem."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from opsbook.cli import main

PAGES = {
    "ops/deploy.md": "# Deploy\n\n```bash\necho deploy\n```\n\n```bash\nkubectl get pods\n```\n",
    "ops/legacy.md": '# Legacy tabs\n\n```bash tab="Compose"\ndocker compose ps\n```\n',
    "ops/deep/quoted.md": "# Quoted\n\n> ```sh\n> echo quoted\n> ```\n\n"
                          "<!-- opsbook: skip=nonsense -->\n```bash\necho marked\n```\n",
    "clean.md": "# Clean\n\n```console\n$ echo ok\nok\n```\n",
}


def _docs(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    for rel, text in PAGES.items():
        (docs / rel).parent.mkdir(parents=True, exist_ok=True)
        (docs / rel).write_text(text)
    return docs


def test_a_folder_lists_every_block_with_its_own_problems(tmp_path: Path) -> None:
    docs = _docs(tmp_path)
    result = CliRunner().invoke(main, ["blocks", "list", "--json", str(docs)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, no traceback
    assert "Traceback" not in result.output
    data = json.loads(result.stdout)
    rows = {Path(r["id"]).relative_to(docs).as_posix(): r for r in data["blocks"]}
    assert set(rows) == {"ops/deploy.md:3", "ops/deploy.md:7", "ops/legacy.md:3",
                         "ops/legacy.md:5",  # the refused fence's closing line opens one
                         "ops/deep/quoted.md:3", "ops/deep/quoted.md:8", "clean.md:3"}
    assert rows["ops/deploy.md:3"]["classification"] == "run"
    assert rows["ops/deploy.md:3"]["problems"] == []
    [kube] = rows["ops/deploy.md:7"]["problems"]
    assert "uses kubectl/helm outside" in kube and kube.startswith(str(docs / "ops/deploy.md:7"))
    assert rows["ops/legacy.md:3"]["classification"] == "rendered-as-text"
    assert "rendered as text" in rows["ops/legacy.md:3"]["problems"][0]
    assert rows["ops/deep/quoted.md:3"]["classification"] == "run"  # in a blockquote
    assert "unknown skip reason" in rows["ops/deep/quoted.md:8"]["problems"][0]
    # every problem belongs to exactly one listed block, and all of them are reported
    per_block = sorted(p for r in data["blocks"] for p in r["problems"])
    assert per_block == sorted(data["problems"]) and len(per_block) == 4
    pages = {Path(p["page"]).relative_to(docs).as_posix(): p for p in data["pages"]}
    assert pages["ops/deploy.md"]["counts"]["unclassified"] == 1
    assert pages["ops/legacy.md"]["counts"]["rendered as text"] == 2
    assert pages["clean.md"]["problems"] == 0


def test_text_listing_of_a_folder_prints_each_problem_once(tmp_path: Path) -> None:
    docs = _docs(tmp_path)
    result = CliRunner().invoke(main, ["blocks", "list", str(docs / "ops"), str(docs / "clean.md")])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 4, result.stderr
    assert "rendered as text" in result.stdout and "adopted" in result.stdout


def test_an_empty_folder_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["blocks", "list", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("no Markdown (*.md) files in this folder")
