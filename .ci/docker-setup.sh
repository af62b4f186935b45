#!/usr/bin/env bash
# Make a Docker engine and the base image ready for the container build and
# tests/e2e/run.sh, on a fresh Debian 12 machine as on a developer's.
#
#   .ci/docker-setup.sh          # install what is missing, start dockerd if it
#                                # does not answer, make debian:bookworm-slim
#   .ci/docker-setup.sh stop     # stop the dockerd this script started (if any)
#   .ci/docker-setup.sh status
#
# The engine is started with DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 so Swarm
# tasks use local images instead of first trying a registry pull (there is no
# Docker Hub here). Its PID goes to $ENP_DOCKERD_PIDFILE so `stop` ends exactly
# that process, and only when this script started it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PIDFILE=${ENP_DOCKERD_PIDFILE:-/tmp/enp-dockerd.pid}
LOGFILE=${ENP_DOCKERD_LOG:-/tmp/enp-dockerd.log}
WAIT=${ENP_DOCKERD_WAIT:-60}

log() { printf '[docker-setup] %s\n' "$*" >&2; }

engine_up() { timeout 10 docker info >/dev/null 2>&1; }

# PID from the pidfile when that process is still the dockerd we started.
our_dockerd() {
    [[ -f $PIDFILE ]] || return 1
    local pid; pid=$(cat "$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/comm ]] && [[ $(cat "/proc/$pid/comm") == dockerd ]] || return 1
    echo "$pid"
}

install_missing() {
    local need=()
    command -v docker >/dev/null && command -v dockerd >/dev/null || need+=(docker.io)
    command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
    command -v debootstrap >/dev/null || need+=(debootstrap)
    command -v curl >/dev/null || need+=(curl)
    (( ${#need[@]} )) || return 0
    [[ $(id -u) == 0 ]] || { log "need root to install: ${need[*]}"; return 1; }
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d may refuse to start services here; the engine is started below.
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

start_engine() {
    if engine_up; then
        log "Docker engine already answering ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
        return 0
    fi
    if pid=$(our_dockerd); then
        log "dockerd $pid (ours) is running but not answering yet"
    else
        [[ $(id -u) == 0 ]] || { log "need root to start dockerd"; return 1; }
        log "starting dockerd (log: $LOGFILE)"
        DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 nohup dockerd >"$LOGFILE" 2>&1 </dev/null &
        echo $! >"$PIDFILE"
    fi
    local deadline=$((SECONDS + WAIT))
    until engine_up; do
        if ! our_dockerd >/dev/null; then
            log "dockerd exited; last lines of $LOGFILE:"; tail -n 20 "$LOGFILE" >&2
            rm -f "$PIDFILE"
            return 1
        fi
        (( SECONDS < deadline )) || { log "dockerd not answering after ${WAIT}s"; tail -n 20 "$LOGFILE" >&2; return 1; }
        sleep 1
    done
    log "Docker engine up ($(docker version --format '{{.Server.Version}}'))"
}

stop_engine() {
    local pid
    if ! pid=$(our_dockerd); then
        rm -f "$PIDFILE"
        log "no dockerd started by this script is running; nothing to stop"
        return 0
    fi
    # Leave a swarm this engine may still be in, so the next start is clean.
    if [[ $(timeout 10 docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null) == active ]]; then
        timeout 30 docker swarm leave --force >/dev/null 2>&1 || true
    fi
    log "stopping dockerd $pid"
    kill -TERM "$pid"
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
        if (( SECONDS >= deadline )); then
            log "dockerd $pid still running after 30 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.5
    done
    rm -f "$PIDFILE"
}

case ${1:-start} in
    start)
        install_missing
        start_engine
        "$ROOT/scripts/docker-base-image.sh"
        ;;
    stop)
        stop_engine
        ;;
    status)
        if engine_up; then echo "engine: up"; else echo "engine: down"; fi
        if pid=$(our_dockerd); then echo "dockerd started by this script: $pid"; fi
        docker image inspect debian:bookworm-slim >/dev/null 2>&1 &&
          echo "base image: present" || echo "base image: missing"
        ;;
    *)
        echo "usage: $0 [start|stop|status]" >&2
        exit 2
        ;;
esac
