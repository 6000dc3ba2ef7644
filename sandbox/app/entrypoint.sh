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
        exec uvicorn opsbook_app.api:app --host 0.0.0.0 --port "${API_PORT_INTERNAL:-8000}" \
            --no-access-log --timeout-graceful-shutdown 5
        ;;
    worker)
        exec python -m opsbook_app.worker
        ;;
    *)
        exec "$@"
        ;;
esac
