#!/usr/bin/env bash
#   A throwaway PostgreSQL cluster for tests and benchmarks (never for data
#   you want to keep).
#     scripts/pg-scratch.sh start DIR [PORT]   initdb DIR, start the server;
#                                              prints its libpq URI
#     scripts/pg-scratch.sh stop DIR           stop it and remove DIR
#     scripts/pg-scratch.sh halt DIR           stop it, keeping the data
#     scripts/pg-scratch.sh resume DIR         start it again after halt
#   The server listens on a Unix socket in DIR, and on 127.0.0.1:PORT when
#   PORT is given. It runs as the user postgres when we are root (PostgreSQL
#   refuses root). PG_SCRATCH_OPTIONS adds server options, e.g. "-c fsync=off".
#   PostgreSQL's programs come from ENP_PG_BIN, else the newest
#   /usr/lib/postgresql/*/bin (scripts/deps.sh test installs them).
set -euo pipefail

usage () { echo "usage: $0 start DIR [PORT] | stop DIR | halt DIR | resume DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
command=$1 dir=$2 port=${3:-}

bin=${ENP_PG_BIN:-}
if [ -z "$bin" ]; then
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
[ -x "$bin/pg_ctl" ] || { echo "pg-scratch: PostgreSQL not found (scripts/deps.sh test installs it)" >&2; exit 1; }

as_owner () {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
    start)
        mkdir -p "$dir"
        if [ "$(id -u)" -eq 0 ]; then
            chown postgres: "$dir"
            runuser -u postgres -- test -x "$dir" \
                || { echo "pg-scratch: the user postgres cannot reach $dir (put it in /tmp)" >&2; exit 1; }
        fi
        as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
            --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
        listen="''"
        [ -z "$port" ] || listen=127.0.0.1
        echo "-k $dir -p ${port:-5432} -c listen_addresses=$listen -c max_connections=200" \
             "${PG_SCRATCH_OPTIONS:-}" >"$dir/options"
        "$0" resume "$dir"
        echo "postgresql:///postgres?host=$dir&port=${port:-5432}&user=postgres"
        ;;
    halt)       # stop the server, keeping its data (fault tests)
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
        ;;
    resume)     # start it again
        as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "$(cat "$dir/options")" start >/dev/null || { tail -n 20 "$dir/server.log" >&2; exit 1; }
        ;;
    stop)
        if [ -f "$dir/data/postmaster.pid" ]; then
            as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$dir"
        ;;
    *) usage ;;
esac
