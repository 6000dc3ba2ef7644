"""The sandbox: the reference platform under Docker Compose, as library calls.

The CLI (`opsbook sandbox ...`), the verification driver and the pytest plugin are thin
callers of `up`, `down`, `status` and `compose_environment`, or of `ComposeSandbox`, which
bundles them as a verification target.
"""

from opsbook.sandbox.env import base_urls, compose_environment, port_variable
from opsbook.sandbox.lifecycle import (
    ServiceStatus,
    build_images,
    check_ports,
    down,
    leftovers,
    logs,
    status,
    up,
)
from opsbook.sandbox.target import ComposeSandbox

__all__ = [
    "ComposeSandbox",
    "ServiceStatus",
    "base_urls",
    "build_images",
    "check_ports",
    "compose_environment",
    "down",
    "leftovers",
    "logs",
    "port_variable",
    "status",
    "up",
]
