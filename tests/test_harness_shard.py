"""Splitting pages across shards and workers (harness/shard.py)."""

from __future__ import annotations

import pytest

from opsbook.errors import OpsbookError
from opsbook.harness.reading.plan import read_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.harness.shard import parse_shard, split


def page(name: str, blocks: int):
    return read_page(name, "".join("```bash\ntrue\n```\n\n" for _ in range(blocks)), Forbidden())


def test_every_page_lands_in_exactly_one_part_balanced_by_duration() -> None:
    pages = [page(f"p{i}.md", 1) for i in range(7)]
    durations = {"p0.md": 100.0, "p1.md": 60.0, "p2.md": 50.0, "p3.md": 10.0}
    parts = split(pages, 2, durations.get)
    names = [[p.page for p in part] for part in parts]
    assert sorted(sum(names, [])) == sorted(p.page for p in pages)
    loads = [sum(durations.get(n, 1.0) for n in part) for part in names]
    assert max(loads) - min(loads) <= 10  # 100+3x1 against 60+50+10; not 100+60 vs 63
    assert all(part == sorted(part, key=lambda n: int(n[1:-3])) for part in names)


def test_pages_never_run_are_weighed_by_their_steps() -> None:
    big, small1, small2 = page("big.md", 6), page("s1.md", 3), page("s2.md", 3)
    parts = split([big, small1, small2], 2, lambda _: None)
    assert sorted([p.page for p in part] for part in parts) == [["big.md"], ["s1.md", "s2.md"]]


def test_the_split_is_the_same_on_every_machine() -> None:
    pages = [page(f"p{i}.md", 1) for i in range(9)]
    assert split(pages, 3, lambda _: 5.0) == split(list(pages), 3, lambda _: 5.0)


@pytest.mark.parametrize("text", ["1/2", " 2 / 2 "])
def test_parse_shard(text: str) -> None:
    assert parse_shard(text)[1] == 2


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "1"])
def test_a_bad_shard_is_an_error(text: str) -> None:
    with pytest.raises(OpsbookError, match="write it as I/N"):
        parse_shard(text)
