#!/usr/bin/env bash
# Start or stop the peer (FastAPI + uvicorn + Celery on Redis) on loopback.
#
#   bench/peer/run_peer.sh start PORT [STATE_DIR]   # prints PEER_URL=http://127.0.0.1:PORT
#   bench/peer/run_peer.sh stop [STATE_DIR]
#
# STATE_DIR (default /tmp/enp-peer) holds PID files and logs.  Redis gets a
# free loopback port.  Uses the system python (/usr/bin/python3) with Debian's
# python3-fastapi python3-uvicorn python3-celery python3-redis python3-requests
# and redis-server; `run_peer.sh deps` installs them with apt-get.
# PEER_CONCURRENCY: Celery worker processes (default: nproc, Celery's own default).
# PEER_WORKER=0: start Redis and uvicorn only (tasks pile up in Redis), for
# measuring create throughput without the worker competing for the CPU.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

peer_deps() {
    if ! "$PY" -c 'import fastapi, uvicorn, celery, redis, requests' 2>/dev/null || ! command -v redis-server >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-fastapi python3-uvicorn python3-celery \
          python3-redis python3-requests python3-httptools python3-uvloop redis-server >/dev/null
    fi
}

# stop_pidfiles FILE...: SIGTERM to each PID named in FILE (only those), wait
# up to 10 s for all, then SIGKILL what is left
stop_pidfiles() {
    local f pid i pids=()
    for f in "$@"; do
        [[ -f "$f" ]] || continue
        pid="$(cat "$f" 2>/dev/null || true)"
        rm -f "$f"
        [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || continue
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$pid")
    done
    for i in $(seq 1 100); do
        local alive=0
        for pid in "${pids[@]:-}"; do [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && alive=1; done
        (( alive )) || break
        sleep 0.1
    done
    for pid in "${pids[@]:-}"; do
        [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    done
    return 0
}

peer_stop() {
    local dir="${1:-/tmp/enp-peer}"
    stop_pidfiles "$dir/uvicorn.pid" "$dir/celery.pid" "$dir/redis.pid"
}

wait_http() { # URL SECONDS
    local i
    for i in $(seq 1 $(( $2 * 10 ))); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

peer_start() {
    local port="$1" dir="${2:-/tmp/enp-peer}"
    local conc="${PEER_CONCURRENCY:-$(nproc)}"
    mkdir -p "$dir"
    peer_stop "$dir"
    peer_deps
    local rport; rport="$(free_port)"
    local redis_url="redis://127.0.0.1:$rport/0"

    redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --protected-mode yes \
      --daemonize no --logfile "$dir/redis.log" &
    echo $! > "$dir/redis.pid"
    local i
    for i in $(seq 1 50); do redis-cli -h 127.0.0.1 -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

    (cd "$HERE" && PEER_REDIS_URL="$redis_url" exec "$PY" -m uvicorn app:app --host 127.0.0.1 --port "$port" \
       --log-level warning --no-access-log >"$dir/uvicorn.log" 2>&1) &
    echo $! > "$dir/uvicorn.pid"

    if [[ "${PEER_WORKER:-1}" == 0 ]]; then
        if ! wait_http "http://127.0.0.1:$port/healthz" 20; then
            echo "run_peer: uvicorn did not come up; see $dir/uvicorn.log" >&2
            peer_stop "$dir"; return 1
        fi
        echo "PEER_URL=http://127.0.0.1:$port"
        return 0
    fi

    (cd "$HERE" && PEER_REDIS_URL="$redis_url" PEER_LOGGER_URL="http://127.0.0.1:$port" exec "$PY" -m celery \
       -A tasks worker --loglevel=WARNING --concurrency "$conc" --pool prefork \
       >"$dir/celery.out" 2>"$dir/celery.log") &
    echo $! > "$dir/celery.pid"

    if ! wait_http "http://127.0.0.1:$port/healthz" 20; then
        echo "run_peer: uvicorn did not come up; see $dir/uvicorn.log" >&2
        peer_stop "$dir"; return 1
    fi
    # end-to-end smoke: one event must come back processed
    local loc id st=""
    loc="$(curl -fsS -D - -o /dev/null -H 'Content-Type: application/json' \
          -d '{"user_id":"smoke","description":"peer up"}' "http://127.0.0.1:$port/events" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')"
    id="${loc##*/}"
    for i in $(seq 1 300); do
        st="$(curl -fsS "http://127.0.0.1:$port/events/$id" 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || true)"
        [[ "$st" == processed ]] && break
        sleep 0.1
    done
    if [[ "$st" != processed ]]; then
        echo "run_peer: the Celery worker did not process the smoke event; see $dir/celery.log" >&2
        peer_stop "$dir"; return 1
    fi
    echo "PEER_URL=http://127.0.0.1:$port"
}

case "${1:-}" in
    start) [[ $# -ge 2 ]] || { echo "usage: $0 start PORT [STATE_DIR]" >&2; exit 2; }; peer_start "$2" "${3:-}";;
    stop) peer_stop "${2:-}";;
    deps) peer_deps;;
    *) echo "usage: $0 start PORT [STATE_DIR] | stop [STATE_DIR] | deps" >&2; exit 2;;
esac
