"""`python -m opsbook_app.serve`: the api, served by uvicorn that drains before it stops.

A module of its own: run as __main__, draining.py would be imported twice and the api
would watch a different DRAINING than the one the signal sets.
"""

from __future__ import annotations

import os

import uvicorn

from opsbook_app.draining import DrainingServer


def main() -> None:
    config = uvicorn.Config(
        "opsbook_app.api:app",
        host="0.0.0.0",
        port=int(os.environ.get("API_PORT_INTERNAL", "8000")),
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    DrainingServer(config).run()


if __name__ == "__main__":
    main()
