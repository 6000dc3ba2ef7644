"""Unit tests per stage: directives, classification, expected output, badges, update, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import markdown
import pytest
from click.testing import CliRunner

from opsbook.harness.deciding import expect
from opsbook.harness.model import BlockResult, RunResults
from opsbook.harness.reading.directives import DirectiveSyntaxError, tokenize
from opsbook.harness.reading.plan import read_page
from opsbook.harness.reporting.badges import annotate_page
from opsbook.harness.running.isolation import Forbidden

CORPUS = Path(__file__).parent / "corpus"


def test_directive_tokens() -> None:
    assert tokenize('skip=destructive timeout=30 setup note="a b"') == (
        ("skip", "destructive"),
        ("timeout", "30"),
        ("setup", None),
        ("note", "a b"),
    )
    with pytest.raises(DirectiveSyntaxError):
        tokenize("skip=")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!-- opsbook: frobnicate -->\n```bash\ntrue\n```\n", "p.md:1: unknown opsbook directive"),
        ("<!-- opsbook: skip=lazy -->\n```bash\ntrue\n```\n", "p.md:2: unknown skip reason 'lazy'"),
        ("<!-- opsbook: timeout=soon -->\n```bash\ntrue\n```\n", "p.md:2: timeout=soon is not"),
        ("<!-- opsbook: skip= -->\n```bash\ntrue\n```\n", "p.md:1: malformed opsbook directive"),
        ("<!-- opsbook: setup -->\n\n```bash\ntrue\n```\n", "p.md:1: opsbook directive is not"),
        ("```bash\nkubectl get pods\n```\n", "p.md:1: uses kubectl/helm outside"),
        ("```bash\ncurl http://x/<JOB_ID>\n```\n", "p.md:1: contains the placeholder <JOB_ID>"),
        ("<!-- opsbook:\n```bash\ntrue\n```\n-->\n", "p.md:2: a hidden block must be"),
        ("```console\nout\n$ true\n```\n", "p.md:2: console output before"),
    ],
)
def test_unclassifiable_is_an_error_naming_page_and_line(text: str, expected: str) -> None:
    page = read_page("p.md", text, Forbidden())
    assert any(str(p).startswith(expected) for p in page.problems), page.problems


@pytest.mark.parametrize(
    ("tab", "reason"),
    [("Kubernetes", "needs-kubernetes"), ("Staging", "staging-only"),
     ("Production", "production-only")],
)
def test_a_tab_title_says_where_its_blocks_run(tab: str, reason: str) -> None:
    # staging and production name their hosts: a tab classifies them before the
    # forbidden-target check would refuse them, and kubectl there is no error
    text = (
        '=== "Sandbox"\n\n    ```bash\n    true\n    ```\n\n'
        f'=== "{tab}"\n\n    ```bash\n    kubectl config use-context ctx\n'
        "    curl -fsS https://api.staging.opsbook.example/health\n    ```\n"
    )
    forbidden = Forbidden((("https://api.staging.opsbook.example", "staging"),))
    page = read_page("p.md", text, forbidden)
    assert not page.problems, page.problems
    (sandbox, other) = page.steps
    assert sandbox.classification.kind == "run"
    assert other.classification.kind == "skip"
    assert other.classification.reason is not None
    assert other.classification.reason.value == reason


def test_corpus_classification_and_plan() -> None:
    page = read_page("d.md", (CORPUS / "directives.md").read_text(), Forbidden())
    assert not page.problems, page.problems
    kinds = [(s.block.line, s.classification.role, s.classification.kind) for s in page.steps]
    # hidden setup first, teardown last, the ordinary comment's block is not there at all
    assert kinds[0] == (4, "setup", "run") and kinds[-1][1] == "teardown"
    assert len(kinds) == 6
    by_line = {s.block.line: s for s in page.steps}
    destructive = by_line[10].classification
    assert destructive.reason is not None and destructive.reason.value == "destructive"
    assert by_line[16].classification.expect_exit == 1
    assert by_line[16].classification.retry == 10
    assert by_line[20].commands[0].expected == ("hello", "...")
    assert by_line[33].classification.regex


def test_expected_output_rules() -> None:
    assert expect.matches(["a", "...", "d"], "a\nb\nc\nd\n\n")
    assert expect.matches(["id: ..."], "id: 42   ")
    assert not expect.matches(["a"], "a\nb")
    assert expect.matches([r"v\d+\.\d+"], "v2.10", regex=True)
    assert expect.matches(["ok"], "\x1b[32mok\x1b[0m")
    assert expect.updated(["a", "...", "d"], "a\nx\nd\ne") == ["a", "...", "d", "e"]
    assert expect.updated(["count: ...", "b"], "count: 9\nc") == ["count: ...", "c"]


EXT = [
    "admonition",
    "attr_list",
    "md_in_html",
    "pymdownx.details",
    "pymdownx.superfences",
    "pymdownx.tabbed",
    "pymdownx.highlight",
]


def test_badges_and_banner_render_inside_containers() -> None:
    text = (CORPUS / "directives.md").read_text()
    page = read_page("d.md", text, Forbidden())
    results = RunResults(
        "abc1234",
        "2026-11-22T10:00:00+00:00",
        [
            BlockResult(
                "d.md",
                s.block.line,
                s.block.lang,
                "skipped"
                if s.classification.kind == "skip"
                else "failed"
                if s.block.line == 20
                else "passed",
                reason=s.classification.reason.value if s.classification.reason else None,
                digest=s.block.digest,
            )
            for s in page.steps
        ],
    )
    out = annotate_page("d.md", text, results)
    assert "opsbook:" not in out and "FROM_SETUP=1" not in out  # directives + hidden gone
    html = markdown.markdown(
        out, extensions=EXT, extension_configs={"pymdownx.tabbed": {"alternate_style": True}}
    )
    assert html.index("failed verification") < html.index("echo")  # banner at the top
    assert html.index('<div class="opsbook-summary') < html.index("failed verification")
    assert '<p><span class="opsbook-mark opsbook-passed"' in html  # inline, in a paragraph
    tab = html.split('class="tabbed-block">')[1]
    assert '<p><span class="opsbook-mark opsbook-passed"' in tab.split("</div>\n</div>")[0]
    assert 'opsbook-skipped-destructive"><span aria-hidden="true">⚠</span> not run' in html
    # an edited block loses its mark's claim
    edited = text.replace("echo hello", "echo bonjour")
    assert "not verified: changed since the run" in annotate_page("d.md", edited, results)
    assert "opsbook-" not in annotate_page("d.md", text, None)
    # the summary says how the blocks ran, and when that run did not finish
    results.isolation = "rootless, as opsbook-runner"
    results.state = "interrupted"
    out = annotate_page("d.md", text, results)
    assert "blocks ran rootless, as opsbook-runner" in out
    assert "that run did not finish (interrupted)" in out


def test_blocks_list_json_counts(tmp_path: Path) -> None:
    from opsbook.cli import main

    result = CliRunner().invoke(main, ["blocks", "list", "--json", str(CORPUS / "directives.md")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["counts"]["shell blocks"] == 6 and data["counts"]["run"] == 5
    bad = tmp_path / "bad.md"
    bad.write_text("```bash\nkubectl get pods\n```\n")
    result = CliRunner().invoke(main, ["blocks", "list", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:1: uses kubectl" in result.output
    assert "unclassified             1" in result.output


@pytest.mark.parametrize(
    "directive",
    [
        "<!-- opsbook: frobnicate -->",  # unknown key (reported at the directive's line)
        "<!-- opsbook: skip= -->",  # malformed: the block must not run as if unmarked
        "<!-- opsbook: timeout=soon -->",  # bad value
    ],
)
def test_block_with_a_directive_problem_is_unclassified(tmp_path: Path, directive: str) -> None:
    from opsbook.cli import main

    page = tmp_path / "p.md"
    page.write_text(f"```bash\ntrue\n```\n\n{directive}\n```bash\necho hi\n```\n")
    result = CliRunner().invoke(main, ["blocks", "list", "--json", str(page)])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["counts"] == {
        "shell blocks": 2, "run": 1, "unclassified": 1, "steps": 2, "steps run": 1
    }, data["counts"]
    [row] = [r for r in data["blocks"] if r["line"] == 6]
    assert row["classification"] == "unclassified" and row["problems"], row
    text = CliRunner().invoke(main, ["blocks", "list", str(page)]).output
    assert "classified               50.0 %" in text


def test_snippets_list_is_a_hidden_alias_of_blocks_list() -> None:
    from opsbook.cli import main

    result = CliRunner().invoke(main, ["snippets", "list", "--json", str(CORPUS / "directives.md")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["counts"]["shell blocks"] == 6
    assert "snippets" not in CliRunner().invoke(main, ["--help"]).output


def test_update_rewrites_source_keeping_wildcards(tmp_path: Path) -> None:
    from opsbook.harness.reporting.update import update_page

    src = tmp_path / "u.md"
    src.write_text("```bash\necho 1; echo 2; echo 3\n```\n\n```text\n1\n...\n9\n```\n")
    page = read_page("u.md", src.read_text(), Forbidden())
    res = BlockResult("u.md", 1, "bash", "failed", outputs=["1\n2\n3\n"])
    msgs = update_page(page, [res], src)
    assert msgs == [f"u.md:6: expected output updated in {src}"]
    assert src.read_text() == "```bash\necho 1; echo 2; echo 3\n```\n\n```text\n1\n...\n```\n"
