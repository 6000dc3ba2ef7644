"""Result keys (harness/reporting/keys.py): what changes a page's key, and what does not."""

from __future__ import annotations

from pathlib import Path

from opsbook.facts import load_facts
from opsbook.harness.reading.plan import read_page
from opsbook.harness.reporting.keys import page_key, sandbox_digest
from opsbook.harness.running.isolation import Forbidden

ROOT = Path(__file__).resolve().parents[1]
FACTS = load_facts(ROOT / "facts")
TEXT = "# P\n\n```bash\necho hi\n```\n"


def key(text: str = TEXT, facts=FACTS, sandbox: str = "s", name: str = "p.md") -> str:
    return page_key(read_page(name, text, Forbidden()), facts, sandbox)


def test_the_key_is_stable_and_follows_text_sandbox_and_name() -> None:
    assert key() == key()
    assert key(TEXT + "\nmore prose\n") != key()
    assert key(sandbox="t") != key()
    assert key(name="q.md") != key()


def test_runtime_facts_change_the_key_of_pages_that_use_them_only() -> None:
    probes = FACTS.scenarios.model_copy(update={"settle": "31s"})
    changed = FACTS.model_copy(update={"scenarios": probes})
    assert key(facts=changed) != key()  # every page is checked against the baseline
    fault = FACTS.faults[0]
    other = FACTS.model_copy(update={
        "faults": [fault.model_copy(update={"inject": "true"}), *FACTS.faults[1:]]
    })
    assert key(facts=other) == key()  # a page with no scenario of that fault


def test_sandbox_digest_covers_inputs_not_build_output(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    before = sandbox_digest(tmp_path)
    (tmp_path / "wheelhouse").mkdir()
    (tmp_path / "wheelhouse" / "x.whl").write_bytes(b"zip")
    assert sandbox_digest(tmp_path) == before
    (tmp_path / "compose.yaml").write_text("services: {a: {}}\n")
    assert sandbox_digest(tmp_path) != before
    assert sandbox_digest(ROOT / "sandbox") == sandbox_digest(ROOT / "sandbox")
