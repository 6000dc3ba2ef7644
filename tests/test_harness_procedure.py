"""Procedures under traffic, with a stand-in driver whose counts a page's blocks write
(real bash, no sandbox): the traffic starts before the first main block and is counted
after the last; a lost job fails that block and the run. The real driver and the
sandbox's pages are proven by tests/integration/test_traffic.py and the doc run."""

from __future__ import annotations

import json
from pathlib import Path

from opsbook.facts import load_facts
from opsbook.facts.model import Budget, ProcedurePage
from opsbook.harness.model import ProcedureResult, RunResults
from opsbook.harness.reading.plan import Plan, read_page
from opsbook.harness.reporting.badges import annotate_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.harness.verify import verify

FACTS = load_facts(Path(__file__).resolve().parents[1] / "facts")
COUNTS = {"rate": 20, "seconds": 3.0, "accepted": 60, "completed": 60, "failed": 0,
          "lost": 0, "refused": 0, "errors": 0, "lost_ids": []}  # fmt: skip


def facts(budget: Budget):
    procedures = FACTS.procedures.model_copy(
        update={
            # the stand-in: `start` notes the time; the page's blocks may edit the counts
            "start": f"echo '{json.dumps(COUNTS)}' > \"$HOME/counts\"; date +%s > \"$HOME/t0\"",
            "stop": 'cat "$HOME/counts"',
            "pages": [ProcedurePage(page="deploy.md", title="Deploy", budget=budget)],
        }
    )
    scenarios = FACTS.scenarios.model_copy(
        update={"baseline": "echo same", "reset": "true", "settle": "1s"}
    )
    return FACTS.model_copy(update={"procedures": procedures, "scenarios": scenarios})


SETUP = "<!-- opsbook: setup\n```bash\ntest ! -e \"$HOME/t0\"\n```\n-->\n\n"
FIRST = '```bash\ntest -e "$HOME/t0"\n```\n\n'  # the traffic runs from the first main block


HELD = Budget()  # the default: nothing lost, refused or answered 5xx


def run(page: str, budget: Budget = HELD) -> RunResults:
    forbidden = Forbidden.from_facts(FACTS)
    plan = read_page("deploy.md", page, forbidden)
    assert not plan.problems, plan.problems
    return verify(Plan([plan], forbidden, facts(budget)), check_cleanup=True)


def test_a_procedure_that_loses_nothing_is_proven() -> None:
    results = run(SETUP + FIRST + "```bash\necho deploying\n```\n")
    [proc] = results.procedures
    assert proc.status == "passed", proc.message
    assert (proc.accepted, proc.lost, proc.rate) == (60, 0, 20)
    assert [b.status for b in results.blocks] == ["passed"] * 3
    assert not results.failed


def test_a_lost_job_fails_the_last_block_and_the_run() -> None:
    lose = (
        "sed -i 's/\"lost\": 0/\"lost\": 1/; "
        "s/\"lost_ids\": \\[\\]/\"lost_ids\": [\"j-7\"]/' \"$HOME/counts\""
    )
    results = run(SETUP + FIRST + f"```bash\n{lose}\n```\n")
    [proc] = results.procedures
    assert proc.status == "failed" and proc.lost == 1
    assert "1 job(s) lost (budget 0): j-7" in proc.message
    last = results.blocks[-1]
    assert last.status == "failed" and "under traffic" in last.message
    assert results.failed


def test_refusals_count_against_the_budget_only_when_it_holds_them() -> None:
    refuse = "sed -i 's/\"refused\": 0/\"refused\": 7/' \"$HOME/counts\""
    page = SETUP + FIRST + f"```bash\n{refuse}\n```\n"
    held = run(page).procedures[0]
    assert held.status == "failed" and "7 request(s) refused (budget 0)" in held.message
    shown = run(page, Budget(refused=None)).procedures[0]
    assert shown.status == "passed" and shown.refused == 7


def test_a_5xx_over_budget_says_what_the_client_saw() -> None:
    err = ("sed -i 's/\"errors\": 0/\"errors\": 2, \"samples\": "
           "[\"10:00:01.250 submit 502: Bad Gateway\"]/' \"$HOME/counts\"")
    proc = run(SETUP + FIRST + f"```bash\n{err}\n```\n").procedures[0]
    assert proc.status == "failed" and proc.samples == ["10:00:01.250 submit 502: Bad Gateway"]
    assert proc.message == ("2 request(s) answered 5xx (budget 0); "
                            "first seen: 10:00:01.250 submit 502: Bad Gateway")


def test_a_failed_step_means_not_proven() -> None:
    results = run(SETUP + FIRST + "```bash\nfalse\n```\n\n```bash\necho after\n```\n")
    [proc] = results.procedures
    assert proc.status == "failed" and proc.message.startswith("not proven:")


def test_the_page_shows_the_figures_under_its_title() -> None:
    res = ProcedureResult("deploy.md", "passed", 20, 42.0, 840, 838, 2, 0, 0, 0)
    results = RunResults("abc1234", "2026-11-23T10:00:00+00:00", procedures=[res])
    shown = annotate_page("deploy.md", "# Deploy\n\nText.\n", results)
    lines = shown.splitlines()
    assert lines[0] == "# Deploy"
    assert "proven under 20 jobs/s" in shown and "**0 lost**" in shown
    assert "840 jobs accepted, 838 completed, 2 failed" in shown
