"""Graceful shutdown for an api replica behind the proxy.

On SIGTERM (`docker stop`, a rollout retiring the replica) the replica first reports
not ready for DRAIN_SECONDS while it keeps serving, so the proxy's health check takes it
out of rotation; only then does uvicorn stop accepting and finish the requests in hand.
Closing the socket at once instead would send the requests the proxy routes meanwhile to
a closed port. A second signal stops at once.
"""

from __future__ import annotations

import os
import threading
from types import FrameType

import uvicorn

DRAINING = threading.Event()
# The proxy checks every second and needs two failures (sandbox/proxy/haproxy.cfg).
DRAIN_SECONDS = float(os.environ.get("OPSBOOK_DRAIN_SECONDS", "4"))


class DrainingServer(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if DRAINING.is_set() or DRAIN_SECONDS <= 0:
            super().handle_exit(sig, frame)
            return
        DRAINING.set()
        timer = threading.Timer(DRAIN_SECONDS, super().handle_exit, (sig, frame))
        timer.daemon = True
        timer.start()
