"""The generated files as text, writing them, detecting drift, and proving them with promtool."""

from __future__ import annotations

import difflib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from opsbook.alerts.promtool import PromtoolResult, run_promtool
from opsbook.alerts.promtool_tests import suite
from opsbook.alerts.rules import MIN_WINDOW, rule_groups
from opsbook.facts import Facts
from opsbook.project import Project

RULES_FILE = "opsbook.rules.yml"
TESTS_FILE = "opsbook.rules.test.yml"
RULES_DIR = Path("prometheus") / "rules"  # under the sandbox dir; Prometheus mounts it
HEADER = (
    "# generated from facts/thresholds.yml by `opsbook alerts render`; do not edit\n"
    "# (change the facts, then run `opsbook alerts render`)\n"
)
SANDBOX_NOTE = (
    "# The sandbox's variant: every `for` and every range window is the real one x {scale:g}\n"
    "# (facts/faults.yml: scenarios.for_scale; a window no shorter than {floor}), so fault\n"
    "# scenarios fire within a CI run; `opsbook alerts test` proves the real rules with promtool.\n"
)


def default_out(project: Project) -> Path:
    return project.sandbox_dir / RULES_DIR


def dump(data: dict[str, Any], note: str = "") -> str:
    """Deterministic YAML: insertion order kept, no line folding, so diffs are exact."""
    return HEADER + note + yaml.safe_dump(
        data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1_000_000
    )


def rules_text(facts: Facts, *, sandbox: bool = True) -> str:
    """The rules file: the sandbox's (`for` and windows scaled, what `alerts render` writes for the
    sandbox's Prometheus) or the real one (what promtool proves)."""
    if not sandbox:
        return dump(rule_groups(facts))
    scale = facts.scenarios.for_scale
    return dump(rule_groups(facts, scale), SANDBOX_NOTE.format(scale=scale, floor=MIN_WINDOW))


def suite_text(facts: Facts) -> str:
    return dump(suite(facts, RULES_FILE))


def write_rules(facts: Facts, out_dir: Path, *, sandbox: bool = True) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RULES_FILE
    path.write_text(rules_text(facts, sandbox=sandbox), encoding="utf-8")
    return path


def drift(facts: Facts, out_dir: Path, shown_as: str | None = None) -> str | None:
    """None when the file on disk equals a fresh render, else a unified diff (disk -> fresh)."""
    path = out_dir / RULES_FILE
    name = shown_as or str(path)
    fresh = rules_text(facts)
    if not path.is_file():
        return f"--- {name} (missing)\n"
    current = path.read_text(encoding="utf-8")
    if current == fresh:
        return None
    return "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            fromfile=f"{name} (on disk)",
            tofile=f"{name} (rendered from facts)",
        )
    )


@dataclass(frozen=True)
class Proof:
    check: PromtoolResult
    test: PromtoolResult | None  # None when `check rules` already failed
    rules: int
    cases: int

    @property
    def ok(self) -> bool:
        return self.check.ok and self.test is not None and self.test.ok


def prove(facts: Facts, keep_dir: Path | None = None) -> Proof:
    """`promtool check rules` then `promtool test rules` on a fresh render, in a temp dir."""
    with tempfile.TemporaryDirectory(prefix="opsbook-alerts-") as tmp:
        work = keep_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        write_rules(facts, work, sandbox=False)  # the real `for`, as production runs it
        (work / TESTS_FILE).write_text(suite_text(facts), encoding="utf-8")
        data = suite(facts, RULES_FILE)
        cases = sum(len(group["alert_rule_test"]) for group in data["tests"])
        rules = sum(len(g["rules"]) for g in rule_groups(facts)["groups"])
        check = run_promtool(["check", "rules", RULES_FILE], cwd=work)
        test = run_promtool(["test", "rules", TESTS_FILE], cwd=work) if check.ok else None
        return Proof(check, test, rules, cases)
