"""The results file: `.opsbook/results.json`, one per run, read by the site build."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, fields
from datetime import UTC, datetime
from pathlib import Path

from opsbook.errors import OpsbookError
from opsbook.harness.model import (
    BlockResult,
    CleanupFailure,
    PageRecord,
    ProcedureResult,
    RunResults,
    ScenarioResult,
)

FILE = "results.json"
_KEEP = {f.name for f in fields(BlockResult)} - {"output", "outputs"}
_SCENARIO = {f.name for f in fields(ScenarioResult)}
_PROCEDURE = {f.name for f in fields(ProcedureResult)}
_PAGE = {f.name for f in fields(PageRecord)}


def current_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=10", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def new_run(root: Path) -> RunResults:
    return RunResults(
        commit=current_commit(root), time=datetime.now(UTC).replace(microsecond=0).isoformat()
    )


def write(results: RunResults, state_dir: Path, name: str = FILE) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    return write_file(results, state_dir / name)


def write_file(results: RunResults, path: Path) -> Path:
    # the run each page's blocks come from (a reused page's own, not this run's); the
    # last record of a page wins, as in RunResults.record. Once per write: this file is
    # rewritten after every block.
    this_run = {"commit": results.commit, "time": results.time}
    dated = {r.page: {"commit": r.commit, "time": r.time} for r in results.pages}
    data = {
        "commit": results.commit,
        "time": results.time,
        "state": results.state,
        "isolation": results.isolation,
        "backend": results.backend,
        "counts": results.counts(),
        "blocks": [
            {k: v for k, v in asdict(b).items() if k in _KEEP and v not in (None, "", [])}
            | dated.get(b.page, this_run)
            for b in results.blocks
        ],
        "scenarios": [asdict(s) for s in results.scenarios],
        "cleanup": [asdict(c) for c in results.cleanup],
        "procedures": [asdict(p) for p in results.procedures],
        "pages": [asdict(p) for p in results.pages],
    }
    # write-then-rename: a reader (the site build) never sees half a file
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)
    return path


def read(state_dir: Path, name: str = FILE) -> RunResults | None:
    path = state_dir / name
    if not path.is_file():
        return None
    return read_file(path)


def read_file(path: Path) -> RunResults:
    """A results file; OpsbookError naming the file when it is not one."""
    try:
        data = json.loads(path.read_text())
        return _from_json(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OpsbookError(
            f"{path}: not an opsbook results file ({type(exc).__name__}: {exc}); "
            "give the results.json an `opsbook test` run wrote"
        ) from None


def _from_json(data: dict) -> RunResults:
    blocks = [
        BlockResult(**{k: v for k, v in b.items() if k in _KEEP}) for b in data.get("blocks", [])
    ]
    return RunResults(
        commit=data["commit"],
        time=data["time"],
        blocks=blocks,
        state=data.get("state", "complete"),
        isolation=data.get("isolation", ""),
        backend=data.get("backend", "compose"),
        scenarios=[
            ScenarioResult(**{k: v for k, v in s.items() if k in _SCENARIO})
            for s in data.get("scenarios", [])
        ],
        cleanup=[CleanupFailure(c["page"], c["message"]) for c in data.get("cleanup", [])],
        procedures=[
            ProcedureResult(**{k: v for k, v in p.items() if k in _PROCEDURE})
            for p in data.get("procedures", [])
        ],
        pages=[
            PageRecord(**{k: v for k, v in p.items() if k in _PAGE})
            for p in data.get("pages", [])
        ],
    )
