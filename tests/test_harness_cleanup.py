"""The cleanup check with a baseline kept in a file of the run's HOME (real bash, no
sandbox): a page that leaves it changed is reported with a diff, and reset, so the next
page starts from the baseline. The sandbox's own baseline is tested in
tests/integration/test_cleanup.py."""

from __future__ import annotations

from pathlib import Path

from opsbook.facts import load_facts
from opsbook.harness.reading.plan import Plan, read_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.harness.verify import verify

FACTS = load_facts(Path(__file__).resolve().parents[1] / "facts")
BASELINE = FACTS.model_copy(
    update={
        "scenarios": FACTS.scenarios.model_copy(
            update={
                "baseline": 'cat "$HOME/switch" 2>/dev/null || echo "switch off"',
                "reset": 'rm -f "$HOME/switch"',
                "settle": "1s",
            }
        )
    }
)


def run(pages: dict[str, str]):
    forbidden = Forbidden.from_facts(FACTS)
    plans = [read_page(page, text, forbidden) for page, text in pages.items()]
    return verify(Plan(plans, forbidden, BASELINE), check_cleanup=True)


def test_a_page_that_leaves_a_change_is_reported_and_the_next_starts_clean() -> None:
    results = run({
        "a.md": '```bash\necho "switch on" > "$HOME/switch"\n```\n',
        "b.md": '```bash\ntest ! -e "$HOME/switch"\n```\n',
    })
    [unclean] = results.cleanup
    assert unclean.page == "a.md"
    assert "-switch off" in unclean.message and "+switch on" in unclean.message
    assert "reset did not" not in unclean.message
    assert [b.status for b in results.blocks] == ["passed", "passed"]  # b.md saw the reset
    assert results.failed


def test_a_page_that_puts_back_what_it_changed_is_clean() -> None:
    results = run({
        "a.md": '```bash\necho "switch on" > "$HOME/switch"\nrm "$HOME/switch"\n```\n',
    })
    assert results.cleanup == []
    assert not results.failed


def test_without_the_check_nothing_is_compared() -> None:
    forbidden = Forbidden.from_facts(FACTS)
    page = read_page("a.md", '```bash\necho on > "$HOME/switch"\n```\n', forbidden)
    results = verify(Plan([page], forbidden, BASELINE))  # no target: no sandbox to check
    assert results.cleanup == []
