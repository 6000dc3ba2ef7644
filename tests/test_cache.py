"""The on-disk cache file: entries checked by key, damage is a miss, writes are whole."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from opsbook import cache as disk


def test_an_entry_is_served_only_under_its_key(tmp_path: Path) -> None:
    path = tmp_path / "c.pickle"
    store = disk.DiskCache(path)
    store.put("page.md", "k1", b"payload")
    store.flush()
    again = disk.DiskCache(path)
    assert again.get("page.md", "k1") == b"payload"
    assert again.get("page.md", "k2") is None  # an input changed
    assert again.get("other.md", "k1") is None
    again.put("page.md", "k2", b"new")  # replaces: one entry per name
    again.flush()
    assert disk.DiskCache(path).get("page.md", "k1") is None
    assert disk.DiskCache(path).get("page.md", "k2") == b"new"


@pytest.mark.parametrize("data", [b"", b"\x80\x04garbage", b"not a pickle at all",
                                  pickle.dumps(["a", "list"]), pickle.dumps({"p": "x"})])
def test_a_damaged_file_is_a_miss_not_an_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "c.pickle"
    path.write_bytes(data)
    store = disk.DiskCache(path)
    assert store.get("p", "k") is None
    store.put("p", "k", b"v")
    store.flush()
    assert disk.DiskCache(path).get("p", "k") == b"v"


def test_writes_leave_no_temporary_files_and_nothing_when_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "c.pickle"
    disk.DiskCache(path).flush()
    assert not path.exists()
    store = disk.DiskCache(path)
    store.put("p", "k", b"v")
    store.flush()
    assert [p.name for p in tmp_path.iterdir()] == ["c.pickle"]


def test_no_cache_variable_turns_it_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(disk.NO_CACHE, "1")
    store = disk.DiskCache(tmp_path / "c.pickle")
    store.put("p", "k", b"v")
    store.flush()
    assert not store.enabled and store.get("p", "k") is None
    assert not (tmp_path / "c.pickle").exists()


def test_an_unwritable_place_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = disk.DiskCache(blocker / "sub" / "c.pickle")  # a folder under a file
    store.put("p", "k", b"v")
    store.flush()  # nothing raised


def test_stable_names_functions_by_their_code() -> None:
    from pymdownx.superfences import fence_code_format

    one = disk.stable_json({"b": [1, fence_code_format], "a": None})
    assert one == disk.stable_json({"a": None, "b": (1, fence_code_format)})
    assert "pymdownx.superfences.fence_code_format@" in one and " at 0x" not in one
