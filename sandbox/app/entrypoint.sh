#!/bin/sh
# One image, two processes. The api migrates the database to head before serving, so
# `up` (and every deploy) applies migrations; the worker only waits for them.
set -e
case "${1:-api}" in
    api)
        for attempt in 1 2 3 4 5 6 7 8 9 10; do
            alembic upgrade head && break
            [ "$attempt" = 10 ] && { echo "migrations failed" >&2; exit 1; }
            echo "database not ready; retrying migrations in 1 s" >&2
            sleep 1
        done
        # uvicorn, draining before it stops (opsbook_app/draining.py)
        exec python -m opsbook_app.serve
        ;;
    worker)
        exec python -m opsbook_app.worker
        ;;
    *)
        exec "$@"
        ;;
esac
