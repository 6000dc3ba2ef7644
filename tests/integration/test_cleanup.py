"""The cleanup check against the real sandbox: after every page the sandbox must be back at
its baseline (facts/faults.yml `scenarios.baseline`). A page that leaves a container
running, or a fault switch on, fails the run with a diff naming it, and the next page
starts from the baseline all the same."""

from __future__ import annotations

import pytest

from opsbook.harness.reading.plan import Plan, read_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.harness.verify import verify

pytestmark = pytest.mark.integration

SWITCH = 'curl -fsS "http://127.0.0.1:$PROXY_PORT/admin/fault"'


def run_pages(sandbox, pages: dict[str, str]):
    forbidden = Forbidden.from_facts(sandbox.facts)
    plans = [read_page(name, text, forbidden) for name, text in pages.items()]
    try:
        return verify(
            Plan(plans, forbidden, sandbox.facts), project=sandbox.project, write_results=False
        )
    finally:
        sandbox.ensure_healthy()


def test_a_leftover_container_and_a_fault_left_on_are_caught(sandbox) -> None:
    results = run_pages(sandbox, {
        "container.md": (
            "```bash\ndocker run -d --name opsbook-leftover --network none "
            "debian:bookworm-slim sleep 300\n```\n"
        ),
        "fault.md": (
            "```bash\ncurl -fsS -X POST \"http://127.0.0.1:$PROXY_PORT/admin/fault\" "
            "-H 'content-type: application/json' -d '{\"error_rate\": 0.1}'\n```\n"
        ),
        "after.md": (
            f"```bash\n{SWITCH} > switch.json\ngrep -q '\"error_rate\":0.0' switch.json\n```\n"
        ),
    })
    unclean = {c.page: c.message for c in results.cleanup}
    assert set(unclean) == {"container.md", "fault.md"}, unclean
    assert "+container opsbook-leftover" in unclean["container.md"]
    assert '"error_rate":0.1' in unclean["fault.md"]
    assert "reset did not" not in unclean["fault.md"]
    # the page after them started from the baseline: switch clear, no leftover
    assert [b.status for b in results.blocks] == ["passed"] * 3
    assert results.failed
    names = sandbox.compose("ps", "--all", "--format", "{{.Name}}").stdout
    assert "opsbook-leftover" not in names


def test_a_page_that_restores_what_it_changed_is_clean(sandbox) -> None:
    results = run_pages(sandbox, {
        "restart.md": "```bash\ndocker compose restart worker\n```\n",
    })
    assert results.cleanup == [], results.cleanup[0].message


def test_a_canary_left_serving_is_caught_and_taken_away(sandbox) -> None:
    share = 'python3 "$(dirname "$COMPOSE_FILE")/tools/share.py"'
    results = run_pages(sandbox, {
        "canary.md": (
            "```bash\ndocker compose --profile next up -d --wait --no-deps api-next\n"
            f"{share} set 25\n```\n"
        ),
        "after.md": f"```bash\n{share} show > share.txt\ngrep -q 'gets 0 %' share.txt\n```\n",
    })  # fmt: skip
    unclean = {c.page: c.message for c in results.cleanup}
    assert set(unclean) == {"canary.md"}, unclean
    assert "+container opsbook-sandbox-api-next" in unclean["canary.md"]
    assert "+share api-next gets 25 %" in unclean["canary.md"]
    assert "reset did not" not in unclean["canary.md"]
    assert [b.status for b in results.blocks] == ["passed"] * 2
    names = sandbox.compose("--profile", "next", "ps", "--all", "--format", "{{.Name}}").stdout
    assert "api-next" not in names
