"""The sandbox app's feature flag rules (sandbox/app/opsbook_app/flags.py).

The rules are tested against a dict with Redis's get/set/delete; the real Redis path is
executed by the emergency-mitigations page (disable job submissions, see 503, enable).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# the app is not an installed package: it is copied into its image
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox" / "app"))
from opsbook_app import flags  # noqa: E402


class DictStore:
    """What the API uses of a Redis client, kept in a dict."""

    def __init__(self, decode: bool = True) -> None:
        self.data: dict[str, str | bytes] = {}
        self.decode = decode

    def get(self, name: str) -> str | bytes | None:
        return self.data.get(name)

    def set(self, name: str, value: str) -> None:
        self.data[name] = value if self.decode else value.encode()

    def delete(self, *names: str) -> None:
        for name in names:
            self.data.pop(name, None)


class DownStore:
    def get(self, name: str) -> None:
        raise ConnectionError("Redis is away")

    def set(self, name: str, value: str) -> None:
        raise ConnectionError("Redis is away")

    def delete(self, *names: str) -> None:
        raise ConnectionError("Redis is away")


def test_on_by_default():
    assert flags.enabled(DictStore(), "job-submissions")
    assert flags.states(DictStore()) == {name: True for name in flags.FEATURES}


@pytest.mark.parametrize("decode", [True, False])
def test_off_then_on_again(decode):
    store = DictStore(decode)
    flags.set_enabled(store, "job-submissions", False)
    assert store.data == {"opsbook:feature:job-submissions": "off" if decode else b"off"}
    assert not flags.enabled(store, "job-submissions")
    assert flags.states(store)["job-submissions"] is False
    flags.set_enabled(store, "job-submissions", True)
    assert store.data == {}  # on is the default: no key left behind
    assert flags.enabled(store, "job-submissions")


def test_reset_switches_every_feature_back_on():
    store = DictStore()
    for name in flags.FEATURES:
        flags.set_enabled(store, name, False)
    store.data["unrelated"] = "kept"
    flags.reset(store)
    assert store.data == {"unrelated": "kept"}
    assert all(flags.states(store).values())


def test_only_off_switches_off():
    store = DictStore()
    store.data["opsbook:feature:job-submissions"] = "false"  # not the word the API writes
    assert flags.enabled(store, "job-submissions")


def test_store_away_leaves_features_on():
    assert flags.enabled(DownStore(), "job-submissions")
    assert flags.states(DownStore()) == {name: True for name in flags.FEATURES}


def test_switching_with_the_store_away_fails_loudly():
    with pytest.raises(ConnectionError):
        flags.set_enabled(DownStore(), "job-submissions", False)


def test_unknown_feature_is_named():
    with pytest.raises(flags.UnknownFeature, match="no feature 'job-submission'; there are: "):
        flags.enabled(DictStore(), "job-submission")
    with pytest.raises(flags.UnknownFeature):
        flags.enabled(DownStore(), "nope")  # a typo is a bug, even with the store away
    with pytest.raises(flags.UnknownFeature):
        flags.set_enabled(DictStore(), "nope", False)
