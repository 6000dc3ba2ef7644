#!/bin/sh
# First start: create the cluster, the application role and its database; then serve.
# POSTGRES_DB, POSTGRES_USER and POSTGRES_PASSWORD come from compose (from the facts);
# any arguments are passed on to the server (compose.yaml's `command`: the archiving
# settings). A data directory restored from a base backup is served as it is.
set -eu
: "${POSTGRES_DB:?}" "${POSTGRES_USER:?}" "${POSTGRES_PASSWORD:?}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    # The superuser gets a random password nobody keeps, and may not log in over TCP at
    # all: only the application role, with its password, is usable from outside.
    pwfile=$(mktemp)
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pwfile"
    # 1 MiB WAL segments (the default is 16): archive_timeout closes a segment every few
    # seconds while anything writes, and each closed segment is archived whole.
    initdb --username=postgres --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --wal-segsize=1 >/dev/null
    rm -f "$pwfile"
    # `replication`: pg_basebackup, over the socket inside the container only
    cat >"$PGDATA/pg_hba.conf" <<'HBA'
# TYPE  DATABASE     USER      ADDRESS  METHOD
local   all          all                trust
local   replication  postgres           trust
host    all          postgres  all      reject
host    all          all       all      scram-sha-256
HBA
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    # Single-user mode: no server, no socket, one statement per line.
    postgres --single -D "$PGDATA" postgres >/dev/null <<SQL
CREATE ROLE "$POSTGRES_USER" LOGIN PASSWORD '$POSTGRES_PASSWORD';
CREATE DATABASE "$POSTGRES_DB" OWNER "$POSTGRES_USER";
SQL
    echo "initialised database $POSTGRES_DB owned by $POSTGRES_USER"
fi
# archive_command copies WAL segments into wal/, pg_basebackup writes into base/
mkdir -p "$PGARCHIVE/wal" "$PGARCHIVE/base"
exec postgres -D "$PGDATA" "$@"
