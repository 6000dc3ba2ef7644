"""The coverage page's data: faults x alerts x runbooks, from the facts and the last run.

    facts/faults.yml + generated alerts + .opsbook/results.json -> Coverage -> coverage.md

A fault's proof is the scenario run on its own runbook section (other pages may drill the
same fault, e.g. the incident page; those are listed as drills). An alert is covered when
a passing scenario saw it fire and reach the receiver; any other alert is a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opsbook.alerts.rules import AlertRow
from opsbook.facts.model import Facts, Fault
from opsbook.harness.model import RunResults, ScenarioResult


@dataclass(frozen=True)
class FaultCoverage:
    fault: Fault
    proof: ScenarioResult | None  # the last run of its runbook section, if any

    @property
    def status(self) -> str:
        return "not run" if self.proof is None else self.proof.status


@dataclass(frozen=True)
class AlertCoverage:
    name: str
    severity: str
    runbook: str  # page#anchor, as the rule's runbook_url
    faults: tuple[str, ...]  # faults that must fire it
    proven_by: tuple[str, ...]  # faults whose passing scenario saw it fire

    @property
    def gap(self) -> bool:
        return not self.proven_by


@dataclass(frozen=True)
class Coverage:
    faults: list[FaultCoverage]
    alerts: list[AlertCoverage]
    drills: list[ScenarioResult] = field(default_factory=list)  # scenarios off the runbook
    run: RunResults | None = None

    @property
    def gaps(self) -> list[AlertCoverage]:
        return [a for a in self.alerts if a.gap]

    @property
    def proven(self) -> int:
        return sum(1 for f in self.faults if f.status == "passed")


def coverage(facts: Facts, results: RunResults | None, alerts: list[AlertRow]) -> Coverage:
    """`alerts`: the generated alerts (alerts.rules.alert_rows), as the caller has them."""
    scenarios = results.scenarios if results is not None else []
    rows = []
    drills = []
    for fault in facts.faults:
        page = fault.runbook.split("#")[0]
        mine = [s for s in scenarios if s.fault == fault.id]
        rows.append(FaultCoverage(fault, next((s for s in mine if s.page == page), None)))
        drills += [s for s in mine if s.page != page]
    fired_by: dict[str, set[str]] = {}
    for s in scenarios:
        if s.status == "passed":
            for name in s.fired:
                fired_by.setdefault(name, set()).add(s.fault)
    covered = [
        AlertCoverage(
            name=a.name,
            severity=a.severity,
            runbook=a.runbook,
            faults=tuple(f.id for f in facts.faults if a.name in f.alerts),
            proven_by=tuple(sorted(fired_by.get(a.name, ()))),
        )
        for a in alerts
    ]
    return Coverage(rows, covered, drills, results)
