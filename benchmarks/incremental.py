"""Benchmark: incremental, parallel and live verification (issue targets in brackets).

    python benchmarks/incremental.py            # --changed and live; no sandbox needed
    python benchmarks/incremental.py --sandbox  # + one edited page re-verified, warm sandbox
    python benchmarks/incremental.py --full     # + full verification, -j 1 against -j 2

- `--changed`, nothing changed [< 2 s, 0 blocks run]: a copy of the project whose page
  store holds a passing result for every page under its current key, as a complete
  passing run leaves it (filled here so the figure needs no 30-minute run first); the
  whole command is timed, interpreter start-up included.
- Re-verify after editing one page, warm sandbox [< 10 s]: the same copy with the
  sandbox up; one page gets a new line of prose; `opsbook test --changed --no-sandbox`.
  Printed with the page's own block time, so the harness's share is plain: a page of
  quick checks (access.md) and one whose alert drill waits for an alert (monitoring.md).
  Both pages run once first, untimed: a sandbox just started is still being scraped.
- Live [< 5 s for a page of ten fast blocks]: a real `mkdocs serve` with `live: true`;
  from writing the page to the served page showing ten verified marks.
- `-j 2` against `-j 1` [speed-up >= 1.6x on 2 cores]: two full runs of the site, scenarios
  included, one after the other on this checkout (about 45 minutes).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from opsbook.facts import load_facts
from opsbook.harness.model import BlockResult, PageRecord
from opsbook.harness.reading.plan import plan_pages
from opsbook.harness.reporting import results as results_file
from opsbook.harness.reporting import store
from opsbook.harness.reporting.keys import plan_keys
from opsbook.harness.reporting.results import new_run
from opsbook.project import Project, find_project

PARTS = ("mkdocs.yml", "facts", "docs", "snippets")


def copy_project(project: Project, root: Path, sandbox: bool) -> Project:
    root.mkdir(parents=True)
    for part in PARTS + (("sandbox",) if sandbox else ()):
        src = project.root / part
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / part)
    return Project(root)


def fill_store(project: Project) -> int:
    """Every page passed under its current key, as a complete passing run leaves it."""
    plan = plan_pages(project)
    keys = plan_keys(plan.pages, plan.facts, project.sandbox_dir)
    run = new_run(project.root)
    for page in plan.pages:
        for step in page.steps:
            if step.classification.kind == "run":
                b = step.block
                run.blocks.append(BlockResult(b.page, b.line, b.lang, "passed", digest=b.digest))
        run.pages.append(PageRecord(page.page, keys[page.page], run.time, run.commit, 1.0))
    run.state = "complete"
    return len(store.save(run, project.state_dir))


def opsbook(project: Project, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "opsbook", "--project", str(project.root), *args],
        capture_output=True, text=True, timeout=7200,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"opsbook {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr}")
    return elapsed, done.stdout


def bench_changed(project: Project, runs: int) -> None:
    times, out = [], ""
    for _ in range(runs):
        elapsed, out = opsbook(project, "test", "--changed", "--no-sandbox")
        times.append(elapsed)
    to_run = re.search(r"(\d+) of (\d+) pages to run", out)
    print(f"--changed, nothing changed : median {statistics.median(times):5.2f} s over {runs} "
          f"(min {min(times):.2f}); {to_run.group(0) if to_run else '?'}  [< 2 s, 0 run]")


def bench_one_page(project: Project, page: str) -> None:
    """Edit `page` and re-verify: the wall time, and how much of it the page's own blocks
    took (what no harness can save: a page that waits for an alert to fire waits)."""
    path = project.docs_dir / page
    path.write_text(path.read_text() + "\nOne more line of prose.\n")
    elapsed, out = opsbook(project, "test", "--changed", "--no-sandbox")
    blocks = re.search(r"^(\d+ passed.*?) in ", out, re.M)
    results = results_file.read(project.state_dir)
    record = results.record(page) if results is not None else None
    own = record.seconds if record is not None and not record.reused else None
    overhead = f"{elapsed - own:.2f} s around the page's {own:.2f} s" if own else "?"
    print(f"edit {page:<18}, --changed: {elapsed:5.2f} s wall ({overhead}; "
          f"{blocks.group(1) if blocks else '?'})  [< 10 s]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_live(project: Project, blocks: int = 10) -> None:
    config = project.root / "mkdocs.yml"
    live = config.read_text().replace("  - opsbook\n", "  - opsbook:\n      live: true\n")
    config.write_text(live)
    page = project.docs_dir / "access.md"  # any page in the nav

    def text(word: str) -> str:
        return "# Live\n\n" + "".join(f"```bash\necho {word} {i}\n```\n\n" for i in range(blocks))

    page.write_text(text("first"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/access/"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "--dev-addr", f"127.0.0.1:{port}"],
        cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, start_new_session=True,
    )

    def fetch() -> str:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read().decode()
        except OSError:
            return ""

    try:
        deadline = time.monotonic() + 120
        while "first" not in fetch():
            if time.monotonic() > deadline:
                raise SystemExit("mkdocs serve did not come up")
            time.sleep(0.2)
        times = []
        for n, word in enumerate(("second", "third", "fourth")):
            start = time.perf_counter()
            page.write_text(text(word))
            while True:
                html = fetch()
                if word in html and html.count("✔ verified") == blocks:
                    break
                if time.perf_counter() - start > 120:
                    raise SystemExit(f"save {n + 1}: no new badges after 120 s")
                time.sleep(0.1)
            times.append(time.perf_counter() - start)
        print(f"live, save -> badges        : median {statistics.median(times):5.2f} s over "
              f"{len(times)} saves (each: {', '.join(f'{t:.2f}' for t in times)})  [< 5 s]")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine so far, from /proc/stat; None elsewhere."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def busy_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> str:
    if before is None or after is None or after[1] == before[1]:
        return "?"
    return f"{100 * (after[0] - before[0]) / (after[1] - before[1]):.0f} %"


def timed_run(project: Project, *args: str) -> tuple[float, str]:
    """A full `opsbook test`, with how busy the machine's cores were meanwhile."""
    before = cpu_ticks()
    seconds, _ = opsbook(project, "test", *args)
    return seconds, busy_share(before, cpu_ticks())


def bench_full(project: Project) -> None:
    one, busy_one = timed_run(project)
    # the bound on whole pages: no worker can finish before the longest page does
    run = results_file.read(project.state_dir)
    if run is None or not run.pages:
        raise SystemExit("opsbook test wrote no page records: no bound to print")
    pages = {p.page: p.seconds for p in run.pages}
    longest = max(pages, key=pages.__getitem__)
    two, busy_two = timed_run(project, "-j", "2")
    cores = os.cpu_count()
    print(f"full run -j 1               : {one / 60:5.1f} min; {cores} cores {busy_one} busy")
    print(f"full run -j 2               : {two / 60:5.1f} min; {cores} cores {busy_two} busy; "
          f"speed-up {one / two:.2f}x  [>= 1.6x]")
    print(f"pages' own time             : {sum(pages.values()) / 60:5.1f} min, the longest "
          f"{longest} {pages[longest] / 60:.1f} min: at most "
          f"{sum(pages.values()) / pages[longest]:.2f}x with whole pages as the unit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sandbox", action="store_true", help="also re-verify one page")
    parser.add_argument("--full", action="store_true", help="also -j 1 against -j 2")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--page", nargs="+", default=["access.md", "monitoring.md"],
                        help="the pages edited, one at a time (monitoring.md waits for "
                        "its alert drill's alert to fire)")
    args = parser.parse_args()
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    project = find_project(start=Path(__file__).resolve().parent)
    load_facts(project.facts_dir)  # a clear error first if they are broken
    with tempfile.TemporaryDirectory() as tmp:
        copy = copy_project(project, Path(tmp) / "changed", sandbox=args.sandbox)
        print(f"page store filled: {fill_store(copy)} pages")
        bench_changed(copy, args.runs)
        if args.sandbox:
            opsbook(copy, "sandbox", "up")
            try:
                # warm, as an author's sandbox is: scraped by Prometheus, every page's first
                # run done (results elsewhere: the page store stays as filled)
                warm, _ = opsbook(copy, "test", "--no-sandbox", "--results",
                                  str(Path(tmp) / "warm-up.json"), *args.page)
                print(f"warm-up run of {', '.join(args.page)}: {warm:.2f} s (not a figure)")
                for page in args.page:
                    bench_one_page(copy, page)
            finally:
                opsbook(copy, "sandbox", "down")
        bench_live(copy_project(project, Path(tmp) / "live", sandbox=False))
    if args.full:
        bench_full(project)


if __name__ == "__main__":
    main()
