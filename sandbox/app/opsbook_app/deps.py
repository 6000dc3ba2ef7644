"""Connections to PostgreSQL and Redis, with short timeouts so health checks answer fast."""

from __future__ import annotations

import time
from functools import lru_cache

import redis
from sqlalchemy import Engine, create_engine, text

from opsbook_app import config


@lru_cache(maxsize=1)
def engine() -> Engine:
    return create_engine(
        config.database_url(),
        pool_size=5,
        max_overflow=5,
        pool_pre_ping=True,
        pool_timeout=2,
        connect_args={"connect_timeout": 2},
    )


@lru_cache(maxsize=1)
def cache() -> redis.Redis:
    return redis.Redis.from_url(
        config.redis_url(), socket_connect_timeout=1, socket_timeout=2, decode_responses=True
    )


def schema_revision() -> str | None:
    """The Alembic revision the database is at, or None before the first migration."""
    with engine().connect() as conn:
        exists = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
        if exists is None:
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def db_connections() -> int:
    """Open connections to this database, as PostgreSQL counts them."""
    with engine().connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            ).scalar()
            or 0
        )


_columns: tuple[float, bool] = (0.0, False)


def has_result_columns() -> bool:
    """Whether jobs has the result/error/finished_at columns (revision 0002), looked up at
    most every second. Expand/contract: a release reads and writes them only when they are
    there, so it runs on the schema before and after its migration, and a database
    rollback never makes the worker fail on a missing column."""
    global _columns
    checked, present = _columns
    if time.monotonic() - checked > 1:
        with engine().connect() as conn:
            present = bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM information_schema.columns "
                        "WHERE table_name = 'jobs' AND column_name = 'result'"
                    )
                ).scalar()
            )
        _columns = (time.monotonic(), present)
    return present


def forget_columns() -> None:
    """A statement failed on the schema: look the columns up again before the next one."""
    global _columns
    _columns = (0.0, False)
