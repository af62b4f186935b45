#!/usr/bin/env bash
#   Start the whole pipeline natively: installs the build dependencies when
#   missing, builds, starts queue-broker, event-logger and two
#   notification-processors, and stops them all on Ctrl-C.
#
#   Environment (all optional):
#     PORT=8000                     the logger's HTTP port
#     FRONTEND_PORT=5557            broker port the logger pushes to
#     BACKEND_PORT=5558             broker port the processors pull from
#     PROCESSORS=2                  how many processors to start
#     STATE_DIR=.run                where the CURVE certificates and the status
#                                   token are kept between runs (made on the
#                                   first run; delete the folder for new ones)
#     EVENT_LOGGER_STATUS_TOKEN     shared by logger and processors (when unset,
#                                   the random one in STATE_DIR/status-token)
#   Any other EVENT_LOGGER_*, QUEUE_BROKER_* or NOTIFICATION_PROCESSOR_*
#   variable reaches its service (see each binary's --help).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
enp_install build
if command -v npm >/dev/null && [ ! -d api/node_modules/swagger-ui-dist ]; then
    (cd api && npm ci --no-audit --no-fund --loglevel=error --omit=dev) \
        || echo "npm ci failed: /docs will explain how to install Swagger UI" >&2
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" \
    --target event-logger queue-broker notification-processor docs-ui >/dev/null

port=${PORT:-8000}
frontend=${FRONTEND_PORT:-5557}
backend=${BACKEND_PORT:-5558}
processors=${PROCESSORS:-2}

#   Secure by default, as in Compose: CURVE certificates for the broker, the
#   logger and the processors, and a random status token, made once into the
#   state folder (secrets mode 0600) and reused on later runs
state=${STATE_DIR:-.run}
keys=$state/keys
if [ ! -s "$keys/broker_secret" ] || [ ! -s "$keys/logger_secret" ] \
|| [ ! -s "$keys/worker_secret" ]; then
    rm -rf "$keys"
    mkdir -p "$keys/loggers" "$keys/workers"
    chmod 700 "$state" "$keys"
    for name in broker logger worker; do
        build/bin/queue-broker --make-cert "$keys/$name" >/dev/null
    done
    cp "$keys/logger" "$keys/loggers/"
    cp "$keys/worker" "$keys/workers/"
fi
if [ ! -s "$state/status-token" ]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$state/status-token")
fi
token=${EVENT_LOGGER_STATUS_TOKEN:-$(cat "$state/status-token")}
export EVENT_LOGGER_STATUS_TOKEN="$token" NOTIFICATION_PROCESSOR_STATUS_TOKEN="$token"

pids=()
stopping=0
stop () {
    stopping=1
    trap - INT TERM EXIT
    echo
    echo "Stopping..."
    [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
    wait || true
    echo "Stopped."
}
trap stop INT TERM EXIT

build/bin/queue-broker --frontend "tcp://127.0.0.1:$frontend" \
    --backend "tcp://127.0.0.1:$backend" --metrics-host 127.0.0.1 --metrics-port 9101 \
    --curve-secret "$keys/broker_secret" --curve-loggers "$keys/loggers" \
    --curve-workers "$keys/workers" &
pids+=($!)
build/bin/event-logger --host 127.0.0.1 --port "$port" \
    --broker "tcp://127.0.0.1:$frontend" \
    --curve-secret "$keys/logger_secret" --curve-broker "$keys/broker" &
pids+=($!)
for index in $(seq 1 "$processors"); do
    build/bin/notification-processor --broker "tcp://127.0.0.1:$backend" \
        --curve-secret "$keys/worker_secret" --curve-broker "$keys/broker" \
        --logger-url "http://127.0.0.1:$port" --metrics-host 127.0.0.1 \
        --metrics-port $((9101 + index)) &
    pids+=($!)
done

for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
cat <<MSG

  Event pipeline running: broker, logger and $processors processor(s).
    API           http://127.0.0.1:$port/events
    API docs      http://127.0.0.1:$port/docs   (spec: /openapi.yaml)
    Metrics       http://127.0.0.1:$port/metrics, broker :9101, processors :9102..
    Status token  $token   (PATCH needs 'Authorization: Bearer <token>';
                  kept in $state/status-token)
    CURVE         on: certificates in $keys

  Try:
    curl -XPOST 127.0.0.1:$port/events -H 'content-type: application/json' \\
         -d '{"user_id":"u1","description":"hi"}'

  Notifications print below. Ctrl-C stops everything.

MSG
wait -n "${pids[@]}" || true
[ $stopping = 1 ] || echo "A service exited; stopping the others." >&2
