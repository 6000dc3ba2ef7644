"""Feature flags: parts of the API that on-call can switch off at runtime, without a deploy.

One Redis key per flag, read on every request the flag guards, so a switch reaches every
replica at once and outlives restarts and deploys (unlike the fault switch, which lives
only in the processes that were running when it was set):

    GET /admin/features                                   every flag: true (on) or false
    PUT /admin/features/job-submissions {"enabled": false}   POST /api/v1/jobs answers 503
    PUT /admin/features/job-submissions {"enabled": true}    back on (the key is deleted)
    DELETE /admin/features                                every flag back on

A flag is on unless its key says "off": a missing key, or a Redis that does not answer,
leaves the feature on, so an outage of the flag store never switches a feature off.

No import of redis here: the store is anything with get/set/delete, so the rules are
tested without a server (tests/test_sandbox_app_flags.py at the repository root).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

log = logging.getLogger("opsbook.api")

# name -> what switching it off does (docs/emergency-mitigations.md#disable-a-feature)
FEATURES = {
    "job-submissions": "POST /api/v1/jobs answers 503 with Retry-After; reads, the jobs "
    "already queued and the worker carry on",
}
KEY_PREFIX = "opsbook:feature:"
OFF = "off"
RETRY_AFTER_SECONDS = 30  # what a client switched off is told to wait before trying again


class Store(Protocol):
    def get(self, name: str) -> Any: ...
    def set(self, name: str, value: str) -> Any: ...
    def delete(self, *names: str) -> Any: ...


class UnknownFeature(KeyError):
    def __str__(self) -> str:
        return f"no feature {self.args[0]!r}; there are: {', '.join(FEATURES)}"


def key(name: str) -> str:
    """The Redis key of a flag; UnknownFeature for a name that is not one."""
    if name not in FEATURES:
        raise UnknownFeature(name)
    return KEY_PREFIX + name


def enabled(store: Store, name: str) -> bool:
    """Whether the feature is on; on when the store cannot say."""
    k = key(name)  # an unknown name is a bug, not a reason to fail open
    try:
        value = store.get(k)
    except Exception as exc:  # redis.RedisError, socket errors: the store is away
        log.warning("feature flags unreadable, %s stays on: %s", name, exc)
        return True
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return value != OFF


def set_enabled(store: Store, name: str, on: bool) -> None:
    """Switch a feature on (its key deleted: the default) or off."""
    k = key(name)
    if on:
        store.delete(k)
    else:
        store.set(k, OFF)


def reset(store: Store) -> None:
    """Every feature back on."""
    store.delete(*(key(name) for name in FEATURES))


def states(store: Store) -> dict[str, bool]:
    """Every feature and whether it is on, as the API applies them now."""
    return {name: enabled(store, name) for name in FEATURES}
