"""Split pages across N runs (CI jobs or parallel sandboxes), balanced by duration.

Each page goes to the run with the least work so far, longest pages first (the classic
greedy for makespan: within 4/3 of the best split). A page's weight is its wall time in
its last stored run; a page never run is estimated from its steps and scenarios, so the
first split is already sensible. The split depends only on the pages and the stored
durations, so every CI job computes the same one and the shards never overlap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from opsbook.errors import OpsbookError
from opsbook.harness.model import PagePlan

SECONDS_PER_STEP = 1.0  # estimates for a page with no stored run
SECONDS_PER_SCENARIO = 60.0  # a fault: inject, wait for the alert, mitigate, recover


def parse_shard(text: str) -> tuple[int, int]:
    """'2/3' -> (2, 3); OpsbookError on anything else."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise OpsbookError(
            f"--shard {text}: write it as I/N with 1 <= I <= N, for example --shard 1/2"
        )
    return int(m.group(1)), int(m.group(2))


def estimate(page: PagePlan) -> float:
    runs = sum(1 for s in page.steps if s.classification.kind == "run")
    return runs * SECONDS_PER_STEP + len(page.scenarios) * SECONDS_PER_SCENARIO


def split(
    pages: Sequence[PagePlan], n: int, seconds: Callable[[str], float | None]
) -> list[list[PagePlan]]:
    """`n` lists of pages, each in the plan's order. `seconds(page)`: stored duration."""
    weighted = []
    for p in pages:
        known = seconds(p.page)
        weighted.append((known if known is not None else estimate(p), p.page, p))
    bins: list[list[PagePlan]] = [[] for _ in range(n)]
    load = [0.0] * n
    # longest first; ties by name, so every machine splits alike
    for weight, _, page in sorted(weighted, key=lambda w: (-w[0], w[1])):
        i = min(range(n), key=lambda k: (load[k], k))
        bins[i].append(page)
        load[i] += weight
    order = {p.page: i for i, p in enumerate(pages)}
    return [sorted(b, key=lambda p: order[p.page]) for b in bins]
