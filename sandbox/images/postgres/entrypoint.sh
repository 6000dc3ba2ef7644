#!/bin/sh
# First start: create the cluster, the application role and its database; then serve.
# POSTGRES_DB, POSTGRES_USER and POSTGRES_PASSWORD come from compose (from the facts).
set -eu
: "${POSTGRES_DB:?}" "${POSTGRES_USER:?}" "${POSTGRES_PASSWORD:?}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    # The superuser gets a random password nobody keeps, and may not log in over TCP at
    # all: only the application role, with its password, is usable from outside.
    pwfile=$(mktemp)
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pwfile"
    initdb --username=postgres --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    cat >"$PGDATA/pg_hba.conf" <<'HBA'
# TYPE  DATABASE  USER      ADDRESS  METHOD
local   all       all                trust
host    all       postgres  all      reject
host    all       all       all      scram-sha-256
HBA
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    # Single-user mode: no server, no socket, one statement per line.
    postgres --single -D "$PGDATA" postgres >/dev/null <<SQL
CREATE ROLE "$POSTGRES_USER" LOGIN PASSWORD '$POSTGRES_PASSWORD';
CREATE DATABASE "$POSTGRES_DB" OWNER "$POSTGRES_USER";
SQL
    echo "initialised database $POSTGRES_DB owned by $POSTGRES_USER"
fi
exec postgres -D "$PGDATA"
