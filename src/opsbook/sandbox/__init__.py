"""The sandbox: the reference platform under Docker Compose, as library calls.

The CLI (`opsbook sandbox ...`) and the integration-test fixture are thin callers of
`up`, `down`, `status` and `compose_environment`.
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

__all__ = [
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
