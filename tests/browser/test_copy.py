"""The copy button of a `console` block gives the commands alone, ready to paste."""

from __future__ import annotations

from pathlib import Path

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name

from opsbook.harness.deciding.classify import console_commands
from opsbook.harness.model import Block
from tests.browser.pagejs import FIND_BLOCK

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "javascripts" / "console-copy.js"
# Console blocks beyond what the pages hold today: `\` continuations, `> ` prompts,
# heredocs, several commands, an empty prompt; and a bash block, which is left alone.
CASES = {
    "continued": '$ curl -fsS \\\n    "$API_URL/x" \\\n    -d 1\n{"ok":true}',
    "prompted": "$ for i in 1 2; do\n> echo $i\n> done\n1\n2",
    "heredoc": "$ cat <<'EOF' >/tmp/x\nhello $USER\nEOF\n$ cat /tmp/x\nhello $USER",
    "several": "$ echo hi\nhi\n$\n$ echo there\nthere",
    "bash": "echo not a console block",
}


def harness_commands(body: str) -> str:
    block = Block(page="t.md", line=1, end_line=body.count("\n") + 3, lang="console",
                  info="", body=body, indent="", fence="```")
    return "\n".join(c.text for c in console_commands(block, []))


def test_console_copy_script_keeps_what_the_harness_runs(browser):
    """The script on its own, on blocks highlighted as the site highlights them."""
    html = "".join(
        f'<div id="{name}">'
        + highlight(body, get_lexer_by_name("bash" if name == "bash" else "console"),
                    HtmlFormatter(wrapcode=True))
        + "</div>"
        for name, body in CASES.items()
    )
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(html)
        page.add_script_tag(path=str(SCRIPT))
        got = {name: page.get_attribute(f"#{name} code", "data-copy") for name in CASES}
    finally:
        context.close()
    want = {name: harness_commands(body) for name, body in CASES.items() if name != "bash"}
    assert got.pop("bash") is None, "a block with no prompt was taken for a console block"
    assert got == want


def test_copying_a_console_block_copies_only_its_commands(clipboard_browsing, site):
    checked = with_output = 0
    wrong = []
    for plan in site.plan.pages:
        blocks = [b for b, _ in plan.shell if b.lang == "console" and not b.hidden]
        if not blocks:
            continue
        page = clipboard_browsing.open(site.path_of(plan.page))
        for block in blocks:
            # what the harness runs for this block is what a reader should paste
            want = "\n".join(c.text for c in console_commands(block, [])).rstrip()
            index = page.evaluate(FIND_BLOCK, block.body)
            assert index >= 0, f"{block.id}: block not found on {page.url}"
            code = page.locator(".highlight code").nth(index)
            if not code.is_visible():  # in a tab not selected
                continue
            page.evaluate("() => navigator.clipboard.writeText('')")
            code.hover()  # Material shows the button on hover
            pre = code.evaluate("c => c.closest('pre').id")
            page.locator(f"[data-clipboard-target='#{pre} > code']").click()
            got = page.evaluate("() => navigator.clipboard.readText()")
            if got != want:
                wrong.append(f"{block.id}: copied {got!r}, want {want!r}")
            checked += 1
            with_output += want != block.body.rstrip()
    assert checked, "no visible console block on the site: nothing was copied"
    assert with_output, "no console block with a prompt or output to strip: nothing was shown"
    assert not wrong, "\n".join(wrong)
    assert not clipboard_browsing.errors, "\n".join(clipboard_browsing.errors)
