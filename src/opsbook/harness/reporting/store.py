"""Each page's latest result, keyed: `.opsbook/pages/<page>.json`.

    opsbook test            run pages -> results.json -> save(): one file per page run
    opsbook test --changed  a page whose key equals its stored result's, and which
                            passed, is not run: reusable() hands back that result
    opsbook results import  a results.json from elsewhere (a CI artifact) -> save()
    opsbook results merge   shards' or workers' results.json -> merge() -> publish()
    live runs, imports      a run made apart -> fold_in() -> results.json + kept pages

A page file is a results file holding that page alone, dated by the run that executed
it, so the same reader reads both. Only the latest complete run of a page is kept: a page
that passed and then failed with the same key is not reused, its failure stands.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from opsbook.harness.model import RunResults
from opsbook.harness.reporting import results as results_file

FOLDER = "pages"


def _path(state_dir: Path, page: str) -> Path:
    # one flat folder; "/" in a page path is quoted so names cannot collide
    return state_dir / FOLDER / (quote(page, safe="") + ".json")


def save(results: RunResults, state_dir: Path) -> list[str]:
    """Store every page the run executed to its end; return their names."""
    saved = []
    for record in results.pages:
        if record.reused or record.state != "complete":
            continue
        path = _path(state_dir, record.page)
        path.parent.mkdir(parents=True, exist_ok=True)
        results_file.write_file(results.only(record.page), path)
        saved.append(record.page)
    return saved


def load(state_dir: Path, page: str) -> RunResults | None:
    path = _path(state_dir, page)
    return results_file.read_file(path) if path.is_file() else None


def reusable(state_dir: Path, page: str, key: str) -> RunResults | None:
    """The stored result of `page` if it was made with `key` and passed."""
    stored = load(state_dir, page)
    if stored is None:
        return None
    record = stored.record(page)
    if record is None or record.key != key or not stored.page_passed(page):
        return None
    return stored


def seconds(state_dir: Path, page: str) -> float | None:
    """How long the page took in its stored run (for balancing shards)."""
    stored = load(state_dir, page)
    record = stored.record(page) if stored else None
    return record.seconds if record else None


def merge(runs: Iterable[RunResults]) -> RunResults:
    """One report from several runs of disjoint or overlapping pages: each page's results
    come from the latest run that executed it (by its record's time, then by order)."""
    runs = list(runs)
    if not runs:
        raise ValueError("nothing to merge")
    latest: dict[str, tuple[str, int, RunResults]] = {}
    for order, run in enumerate(runs):
        pages = {r.page for r in run.pages} | {b.page for b in run.blocks}
        for page in pages:
            record = run.record(page)
            when = record.time if record else run.time
            if page not in latest or (when, order) >= latest[page][:2]:
                latest[page] = (when, order, run)
    newest = max(runs, key=lambda r: r.time)
    merged = RunResults(
        commit=newest.commit,
        time=newest.time,
        state="complete" if all(r.state == "complete" for r in runs) else "interrupted",
        isolation=", ".join(dict.fromkeys(r.isolation for r in runs if r.isolation)),
    )
    for page in sorted(latest):
        merged.absorb(latest[page][2].only(page))
    return merged


def publish(results: RunResults, state_dir: Path) -> list[str]:
    """Make `results` the project's results.json (what the site shows) and keep every
    page it ran to its end; return those pages."""
    results_file.write(results, state_dir)
    return save(results, state_dir)


def fold_in(incoming: RunResults, state_dir: Path) -> tuple[RunResults, list[str]]:
    """Add a run made apart (one page run live, another machine's results) to the
    project's results.json, page by page, and keep its pages; return the merged report
    and the pages kept."""
    current = results_file.read(state_dir)
    merged = merge([current, incoming] if current is not None else [incoming])
    results_file.write(merged, state_dir)
    return merged, save(incoming, state_dir)
