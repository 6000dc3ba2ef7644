"""A page's result key: one digest of everything its verification result depends on.

    key = sha256(opsbook version, the page as the site shows it, the facts the run reads
                 for it, the sandbox's build inputs)

- The page as rendered (`PagePlan.text`): snippets expanded, hidden blocks included, every
  fact the template used already substituted. So a fact that changes what a page says
  changes that page's key and no other's.
- The facts the harness reads while running the page, which its text does not show: the
  faults its scenarios inject, the sandbox probes (baseline, reset, alert queries) and the
  procedure it runs under traffic.
- The sandbox's build inputs: every file under sandbox/ (compose file, Dockerfiles, the
  app, the generated alert rules), which the images are built from. Hashing the inputs
  instead of asking the engine for image digests keeps `--changed` fast and lets a key be
  computed on a machine with no engine (CI's artifact, a laptop).

Two runs with equal keys ran the same commands against the same system: the older
result still holds. `opsbook test --changed` relies on that.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from opsbook import __version__
from opsbook.facts import Facts
from opsbook.harness.model import PagePlan

# build output and caches under sandbox/ that are not inputs (wheelhouse/ is downloaded
# from requirements.txt, which is hashed)
_NOT_INPUTS = frozenset({"wheelhouse", "__pycache__", ".pytest_cache", ".ruff_cache"})


def sandbox_digest(sandbox_dir: Path | None) -> str:
    """sha256 over the relative path and content of every input file under sandbox/."""
    h = hashlib.sha256()
    if sandbox_dir is None or not sandbox_dir.is_dir():
        return "no-sandbox"
    for path in sorted(sandbox_dir.rglob("*")):
        rel = path.relative_to(sandbox_dir)
        if _NOT_INPUTS.intersection(rel.parts) or not path.is_file():
            continue
        h.update(str(rel).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def runtime_facts(page: PagePlan, facts: Facts | None) -> dict[str, object]:
    """The facts a run reads for `page` that its text does not show."""
    if facts is None:
        return {}
    faults = sorted({s.fault for s in page.scenarios})
    procedure = facts.procedures.for_page(page.page)
    return {
        "faults": [f.model_dump(mode="json") for f in facts.faults if f.id in faults],
        "probes": facts.scenarios.model_dump(mode="json"),
        "procedure": procedure.model_dump(mode="json") if procedure else None,
    }


def page_key(page: PagePlan, facts: Facts | None, sandbox: str) -> str:
    """`sandbox`: `sandbox_digest(...)`, computed once per run."""
    parts = {
        "opsbook": __version__,
        "page": page.page,
        "text": hashlib.sha256(page.text.encode()).hexdigest(),
        "facts": runtime_facts(page, facts),
        "sandbox": sandbox,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def plan_keys(
    pages: list[PagePlan], facts: Facts | None, sandbox_dir: Path | None
) -> dict[str, str]:
    """page -> key, for every page of a plan."""
    sandbox = sandbox_digest(sandbox_dir)
    return {p.page: page_key(p, facts, sandbox) for p in pages}
