"""What a page shows of the last run (reporting/badges.py): one summary under the title, a
small mark per shell block, and a failure banner linking the failing sections."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import markdown
import pytest

from opsbook.harness.model import BlockResult, RunResults, Status
from opsbook.harness.reading.extract import extract
from opsbook.harness.reading.plan import plan_pages, read_page
from opsbook.harness.reporting import results as report
from opsbook.harness.reporting.badges import _age, annotate_page, sections
from opsbook.harness.running.isolation import Forbidden
from opsbook.project import Project
from tests.helpers import build, replace_in

EXT = [
    "admonition",
    "attr_list",
    "md_in_html",
    "toc",
    "pymdownx.details",
    "pymdownx.superfences",
    "pymdownx.tabbed",
    "pymdownx.highlight",
]
NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
CSS = Path(__file__).resolve().parents[1] / "docs" / "stylesheets" / "opsbook.css"


def html_of(text: str) -> str:
    return markdown.markdown(
        text, extensions=EXT, extension_configs={"pymdownx.tabbed": {"alternate_style": True}}
    )


def run_of(page: str, text: str, status: dict[int, tuple[Status, str]], **kw) -> RunResults:
    """Results for every shell step of `text`: `status` by fence line, else passed (a skip
    stays a skip, with its reason)."""
    plan = read_page(page, text, Forbidden())
    blocks = []
    for s in plan.steps:
        st, msg = status.get(s.block.line, ("passed", ""))
        if s.classification.kind == "skip":
            st = "skipped"
        blocks.append(BlockResult(
            page, s.block.line, s.block.lang, st, digest=s.block.digest, message=msg,
            reason=s.classification.reason.value if s.classification.reason else None,
        ))
    return RunResults("abc1234", "2026-11-20T14:02:09+00:00", blocks, **kw)


PAGE = """\
# Restore

Intro.

## Check the backup { #check }

```bash
ls /backups
```

<!-- opsbook: skip=destructive -->
```bash
rm -rf /var/lib/postgresql/data
```

!!! note "Optional"

    <!-- opsbook: skip=needs-kubernetes -->
    ```bash
    echo kube
    ```

## Restore the live database

```bash
# list what is there first
echo restore
```

=== "Docker Compose"

    ```bash
    echo in a tab
    ```

## Don't panic: `verify` it & done

```bash
echo verify
```

```bash
echo verify again
```
"""


def line_of(text: str, needle: str) -> int:
    """The fence line of the block whose first line is `needle`."""
    lines = text.split("\n")
    return next(i for i, line in enumerate(lines, 1) if line.strip() == needle) - 1


def test_the_summary_counts_this_page_once_under_the_title() -> None:
    results = run_of(
        "r.md", PAGE, {line_of(PAGE, "echo verify"): ("failed", "r.md:43: exited 1")},
        state="complete", isolation="rootless, as opsbook-runner",
    )
    edited = PAGE.replace("echo verify again", "echo verify once more")  # changed since
    out = annotate_page("r.md", edited, results, now=NOW)
    assert out.count('class="opsbook-summary') == 1
    lines = out.split("\n")
    assert lines[0] == "# Restore" and lines[2].startswith('<div class="opsbook-summary')
    summary = lines[2]
    assert "2026-11-20 14:02 UTC" in summary and ">3 days ago<" in summary
    assert "commit <code>abc1234</code>" in summary
    assert "blocks ran rootless, as opsbook-runner" in summary
    assert ">3 passed<" in summary and ">1 failed<" in summary
    assert ">2 not run (⚠ 1 destructive)<" in summary and ">1 changed since the run<" in summary
    assert "did not finish" not in summary
    # the long badge is gone: each block has one short mark, the details live above
    passed = re.findall(r'<span class="opsbook-mark opsbook-passed"[^>]*>([^<]*)</span>', out)
    assert passed == ["✔ verified"] * 3
    html = html_of(out)
    assert html.index("</h1>") < html.index('<div class="opsbook-summary') < html.index("Intro")


def test_an_unfinished_run_says_so_and_what_it_did_not_reach() -> None:
    results = run_of("r.md", PAGE, {}, state="interrupted")
    stop = line_of(PAGE, "# list what is there first")
    results.blocks = [b for b in results.blocks if b.line < stop]
    out = annotate_page("r.md", PAGE, results, now=NOW)
    assert "that run did not finish (interrupted)" in out
    assert ">4 not reached by the run<" in out and ">0 changed since the run<" in out
    assert out.count("not verified: the run stopped before it") == 4
    assert "isolation not recorded" in out


@pytest.mark.parametrize(
    ("seconds", "age"),
    [(-5, ""), (30, "less than a minute ago"), (60, "1 minute ago"), (7200, "2 hours ago"),
     (86400, "1 day ago"), (40 * 86400, "40 days ago")],
)
def test_the_age_of_the_run(seconds: int, age: str) -> None:
    then = datetime(2026, 11, 1, tzinfo=UTC)
    assert _age(then, then + timedelta(seconds=seconds)) == age


def test_a_destructive_skip_looks_unlike_a_harmless_one() -> None:
    html = html_of(annotate_page("r.md", PAGE, run_of("r.md", PAGE, {}), now=NOW))
    [harmless] = re.findall(r'<span class="opsbook-mark opsbook-skipped">(.*?)</span>', html)
    [danger] = re.findall(
        r'<span class="opsbook-mark opsbook-skipped-destructive">(.*?)</span></p>', html)
    assert danger.startswith('<span aria-hidden="true">⚠</span> not run: destructive')
    assert "⚠" not in harmless and harmless.startswith("not run: needs a Kubernetes")
    # and the stylesheet draws them differently, in both schemes: its own colour, a fill
    css = CSS.read_text()
    for scheme in ("default", "slate"):
        block = css.split(f'[data-md-color-scheme="{scheme}"]')[1].split("}")[0]
        colours = dict(re.findall(r"--opsbook-([\w-]+):\s*(#[0-9a-f]{6})", block))
        assert colours["destructive"] not in (colours["skipped"], colours["unverified"],
                                              colours["failed"]), scheme
        assert colours["destructive-bg"] != colours["skipped"]
    rule = css.split(".opsbook-skipped-destructive {")[1].split("}")[0]
    assert "background-color: var(--opsbook-destructive-bg)" in rule


def test_a_failed_mark_shows_its_reason_inline_escaped() -> None:
    message = ("r.md:43: exited 2 (expected 0): echo <script>alert(1)</script> *not em* "
               "_nor_ `code` [x](y) {#z} " + "very long " * 30 + "\nsecond line")
    results = run_of("r.md", PAGE, {line_of(PAGE, "echo verify"): ("failed", message)})
    html = html_of(annotate_page("r.md", PAGE, results, now=NOW))
    [(title, shown)] = re.findall(
        r'<span class="opsbook-mark opsbook-failed" title="([^"]*)">✘ failed: '
        r'<span class="opsbook-reason">(.*?)</span></span>', html)
    assert "<script>" not in html and "<em>" not in shown and "<code>" not in shown
    assert shown.startswith("exited 2 (expected 0): echo &lt;script&gt;alert(1)&lt;/script&gt; ")
    text = re.sub(r"&#(\d+);", lambda m: chr(int(m.group(1))), shown)
    assert "*not em* _nor_ `code` [x](y) {#z}" in text
    assert text.endswith("…") and len(text) < 200 and "second line" not in text
    assert title.startswith("r.md:43: exited 2") and "second line" not in title
    assert "&#96;code&#96; &#91;x&#93;(y)" in title  # an attribute is Markdown too


def test_a_refused_block_says_why_without_calling_it_run() -> None:
    results = run_of(
        "r.md", PAGE,
        {line_of(PAGE, "ls /backups"): ("refused", "r.md:7: refused: names prod (production)")},
    )
    out = annotate_page("r.md", PAGE, results, now=NOW)
    assert ('✘ <span class="opsbook-reason">refused: names prod (production)</span>' in out)
    assert ">1 failed<" in out


def test_the_banner_links_each_failing_section_once() -> None:
    failing = {line_of(PAGE, n): ("failed", "boom") for n in
               ("ls /backups", "# list what is there first", "echo in a tab", "echo verify",
                "echo verify again")}
    out = annotate_page("r.md", PAGE, run_of("r.md", PAGE, failing), now=NOW)
    banner = next(line for line in out.split("\n") if line.startswith("    In the run"))
    links = re.findall(r"\[([^\]]*)\]\(#([^)]*)\)", banner)
    assert [a for _, a in links] == ["check", "restore-the-live-database",
                                     "dont-panic-verify-it-done"]
    assert "5 command blocks on this page did not pass" in banner
    assert "line " not in banner  # no Markdown line numbers
    html = html_of(out)
    ids = set(re.findall(r' id="([^"]+)"', html))
    for _, anchor in links:
        assert anchor in ids, anchor  # each link lands on its heading
    assert '<div class="admonition failure">' in html
    assert html.index('<div class="admonition failure">') < html.index("Intro")
    assert "Don&#39;t panic: verify it &amp; done" in banner  # plain text, Markdown-inert


def test_sections_get_the_ids_the_toc_gives_them() -> None:
    text = ("# T\n\n## Verify\n\n```bash\n# Verify\n```\n\n## Verify\n\n<!--\n## Hidden\n-->\n\n"
            "## Verify_1\n\n## Go { #go .wide }\n\n#Tight\n")
    blocks = read_page("s.md", text, Forbidden()).blocks
    got = [(s.title, s.anchor) for s in sections(text.split("\n"), blocks)]
    assert got == [("T", "t"), ("Verify", "verify"), ("Verify", "verify_1"),
                   ("Verify_1", "verify_2"), ("Go", "go"), ("Tight", "tight")]
    ids = re.findall(r'<h\d[^>]* id="([^"]+)"', html_of(text))
    assert ids == [a for _, a in got]  # the toc extension agrees, heading by heading


def test_no_summary_without_shell_blocks_or_without_a_run() -> None:
    text = "# Notes\n\n```yaml\na: 1\n```\n\nText.\n"
    results = run_of("r.md", PAGE, {})
    assert annotate_page("n.md", text, results, now=NOW) == text
    assert "opsbook-" not in annotate_page("r.md", PAGE, None)


SITE_PAGE = """\
# Verify marks

Intro.

## Explicit { #explicit-id }

```bash
echo one
```

!!! warning "Careful"

    ```bash
    echo in an admonition
    ```

1. A step:

    ```bash
    echo in a list
    ```

## Slugged heading

=== "Docker Compose"

    ```bash
    echo in a tab
    ```
"""


def test_the_built_site_shows_marks_summary_and_working_banner_links(
    project_copy: Project, tmp_path: Path
) -> None:
    (project_copy.docs_dir / "verify.md").write_text(SITE_PAGE)
    replace_in(project_copy.root / "mkdocs.yml", "  - Home: index.md",
               "  - Home: index.md\n  - Verify: verify.md")
    [page] = plan_pages(project_copy, pages=["verify.md"]).pages
    failing = {line_of(page.text, "echo one"), line_of(page.text, "echo in a tab")}
    results = RunResults("abc1234", "2026-11-20T14:02:09+00:00", [
        BlockResult("verify.md", s.block.line, s.block.lang,
                    "failed" if s.block.line in failing else "passed", digest=s.block.digest,
                    message="verify.md:1: exited 1 (expected 0): echo")
        for s in page.steps
    ], state="complete", isolation="unisolated")
    report.write(results, project_copy.state_dir)  # the harness's own writer, in the copy
    done = build(project_copy, tmp_path / "site")
    # strict, with `validation: anchors`: a banner link to a missing anchor fails the build
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "site" / "verify" / "index.html").read_text()
    assert 'href="#explicit-id">Explicit</a>' in html
    assert 'href="#slugged-heading">Slugged heading</a>' in html
    assert html.index("</h1>") < html.index('class="opsbook-summary opsbook-summary-failed"')
    admonition = html.split('class="admonition warning"')[1].split("</div>\n</div>")[0]
    assert "opsbook-mark opsbook-passed" in admonition
    tab = html.split('class="tabbed-block"')[1].split("</div>\n</div>")[0]
    assert "opsbook-mark opsbook-failed" in tab
    assert "✘ failed: <span class=\"opsbook-reason\">exited 1 (expected 0): echo</span>" in html
    assert html.count('class="opsbook-mark opsbook-passed"') == 2


def test_a_block_run_on_both_backends_shows_both() -> None:
    text = "# P\n\n```bash\ncurl -fsS \"$API_URL/health/ready\"\n```\n"
    [block], _ = extract("p.md", text)
    compose = RunResults("c1", "2026-11-20T10:00:00+00:00", state="complete",
                         blocks=[BlockResult("p.md", 3, "bash", "passed", digest=block.digest)])
    kube = RunResults("c1", "2026-11-20T11:00:00+00:00", state="complete", backend="kind",
                      blocks=[BlockResult("p.md", 3, "bash", "failed", digest=block.digest,
                                          message="exited 7: connection refused")])
    html = annotate_page("p.md", text, compose, kubernetes=kube)
    line = next(x for x in html.split("\n") if "opsbook-backend" in x)
    assert line.index("Compose") < line.index("✔ verified") < line.index("Kubernetes")
    assert "✘ failed:" in line.split("Kubernetes", 1)[1]
    assert "Kubernetes" not in annotate_page("p.md", text, compose)  # no kind run: one mark
