"""Settings from the environment, read once. The image bakes in OPSBOOK_VERSION."""

from __future__ import annotations

import os
from dataclasses import dataclass

QUEUE_KEY = "opsbook:jobs"
CACHE_PREFIX = "opsbook:job:"
CACHE_TTL_SECONDS = 300


@dataclass(frozen=True)
class Release:
    """What a build needs from its environment; versions differ only here."""

    version: str
    schema: str  # the oldest Alembic revision this build can run against
    writes_result: bool  # v1 predates the result columns (revision 0002)


# v3-broken is the deliberately bad release: it needs a migration that was never shipped,
# so it starts, but never becomes ready -- exactly what a deploy runbook must catch.
RELEASES = {
    "v1": Release("v1", schema="0001", writes_result=False),
    # v2 writes results only when 0002's columns exist (expand/contract), so it also runs
    # on 0001: the database can be rolled back under it without an outage
    "v2": Release("v2", schema="0001", writes_result=True),
    "v3-broken": Release("v3-broken", schema="0003", writes_result=True),
}


def release() -> Release:
    version = os.environ.get("OPSBOOK_VERSION", "dev")
    return RELEASES.get(version, Release(version, schema="0002", writes_result=True))


def database_url() -> str:
    return os.environ.get(
        "DATABASE_URL", "postgresql+psycopg://opsbook:opsbook@postgres:5432/opsbook"
    )


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://redis:6379/0")
