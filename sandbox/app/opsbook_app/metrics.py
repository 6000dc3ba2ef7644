"""Metrics shared by api and worker. Names are a contract: the alert rules query them."""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import Gauge

# cgroup v2, then v1. An unlimited cgroup reports "max" or a huge number.
_CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)
_UNLIMITED = 1 << 60


def memory_limit_bytes() -> float:
    """The container's memory limit: OPSBOOK_MEMORY_LIMIT_BYTES, else the cgroup's, else
    the image's default (OPSBOOK_DEFAULT_MEMORY_LIMIT_BYTES, compose's mem_limit: rootless
    Docker without cgroups does not enforce it, so no cgroup says it), else host RAM."""
    configured = os.environ.get("OPSBOOK_MEMORY_LIMIT_BYTES")
    if configured:
        return float(configured)
    for path in _CGROUP_LIMITS:
        try:
            raw = path.read_text().strip()
        except OSError:
            continue
        if raw != "max" and int(raw) < _UNLIMITED:
            return float(raw)
    default = os.environ.get("OPSBOOK_DEFAULT_MEMORY_LIMIT_BYTES")
    if default:
        return float(default)
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return float(line.split()[1]) * 1024
    return float("nan")


def register_common(version: str) -> None:
    """Build info and the memory limit, which both processes export."""
    Gauge("opsbook_build_info", "The running build", ["version"]).labels(version).set(1)
    Gauge("opsbook_memory_limit_bytes", "Memory limit of this container").set_function(
        memory_limit_bytes
    )
