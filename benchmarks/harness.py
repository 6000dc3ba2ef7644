"""Harness overhead per block vs one plain bash running the same commands; full-run wall time.

    python benchmarks/harness.py            # overhead only (no sandbox needed)
    python benchmarks/harness.py --site     # plus a full verification run (sandbox up)

Overhead = (harness time - plain bash time) / blocks. The harness pays, per block: one
bash process in its own session, sourcing the page's state, saving it back, and the
output/expectation checks. Targets: < 20 ms per block and < 10 % of a full run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opsbook.harness.reading.plan import Plan, read_page
from opsbook.harness.running.isolation import Forbidden, scrubbed_env
from opsbook.harness.verify import verify

BLOCKS = 60
# Typical runbook-shaped blocks: cd/export state, a pipeline, a small loop, output check.
BODIES = [
    "mkdir -p work && cd work\nexport STAGE=$((RANDOM % 3))",
    'for i in 1 2 3; do echo "line $i"; done | grep -c line',
    "printf '%s\\n' alpha beta gamma | sort -r | head -n 1",
    'ls -la / >/dev/null\ndate -u +%Y >/dev/null\necho "stage=${STAGE:-unset}"',
]


def page_text(n: int) -> str:
    parts = []
    for i in range(n):
        parts.append(f"```bash\n{BODIES[i % len(BODIES)]}\n```\n")
        if i % len(BODIES) == 2:
            parts.append("```text\ngamma\n```\n")
    return "\n".join(parts)


def plain_bash(page: str, tmp: Path, env: dict[str, str]) -> float:
    p = read_page("bench.md", page, Forbidden())
    script = "\n".join(c.text for s in p.steps for c in s.commands)
    work = tmp / "plain"
    work.mkdir(exist_ok=True)
    start = time.perf_counter()
    subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", script],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - start


def harness(page: str) -> float:
    """The real driver, as `opsbook test` runs a page (no sandbox, results not written)."""
    plan = Plan([read_page("bench.md", page, Forbidden())], Forbidden(), None)
    start = time.perf_counter()
    results = verify(plan, write_results=False)
    elapsed = time.perf_counter() - start
    bad = [r.message for r in results.blocks if r.status != "passed"]
    assert not bad, bad
    return elapsed


def overhead(rounds: int = 5) -> float:
    page = page_text(BLOCKS)
    h, b = [], []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = scrubbed_env(tmp)
        for _ in range(rounds):
            b.append(plain_bash(page, tmp, env))
            h.append(harness(page))
    hm, bm = statistics.median(h), statistics.median(b)
    per_block = (hm - bm) / BLOCKS
    print(f"{BLOCKS} blocks, median of {rounds} rounds")
    print(f"  one plain bash process : {bm * 1000:8.1f} ms")
    print(f"  harness                : {hm * 1000:8.1f} ms")
    print(f"  overhead per block     : {per_block * 1000:8.2f} ms   (target < 20 ms)")
    return per_block


def site(per_block: float) -> None:
    start = time.perf_counter()
    done = subprocess.run(["opsbook", "test", "--no-sandbox"], capture_output=True, text=True)
    wall = time.perf_counter() - start
    tail = done.stdout.strip().splitlines()[-1:] if done.stdout else []
    print(f"full verification run (warm sandbox): {wall:.1f} s  exit {done.returncode}  {tail}")
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-2000:], file=sys.stderr)
    blocks = sum(1 for line in done.stdout.splitlines() if line.startswith("  ok "))
    blocks += sum(1 for line in done.stdout.splitlines() if line.startswith("  FAIL "))
    share = 100 * per_block * blocks / wall if wall else 0.0
    print(
        f"  harness overhead       : {per_block * blocks:.2f} s of {wall:.1f} s = {share:.1f} % "
        "(target < 10 %)"
    )
    scenarios(wall)


def scenarios(wall: float) -> None:
    """Where a full run's time goes: each fault scenario, from results.json."""
    from opsbook.harness.reporting.results import read
    from opsbook.project import find_project

    results = read(find_project(None).state_dir)
    if results is None or not results.scenarios:
        return
    print(f"  {'scenario':<58} {'fire s':>7} {'clear s':>8} {'total s':>8}")
    for s in results.scenarios:
        def num(x: float | None) -> str:
            return "-" if x is None else f"{x:.1f}"

        print(
            f"  {s.id:<58} {num(s.seconds_to_fire):>7} {num(s.seconds_to_mitigate):>8} "
            f"{num(s.seconds):>8}  {s.status}"
        )
    total = sum(s.seconds or 0 for s in results.scenarios)
    print(f"  scenarios together     : {total:.1f} s of {wall:.1f} s = {100 * total / wall:.0f} %")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--site", action="store_true", help="also time a full run (sandbox up)")
    args = ap.parse_args()
    per_block = overhead()
    if args.site:
        site(per_block)


if __name__ == "__main__":
    main()
