#!/usr/bin/env bash
#   Start the whole pipeline natively: installs the build dependencies when
#   missing, builds, starts queue-broker, event-logger and the
#   notification-processors on 127.0.0.1, and stops them all on Ctrl-C or
#   as soon as one of them exits (saying which one, and why).
#   scripts/run.sh --help lists the options.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

usage () {
    cat <<'USAGE'
Usage: scripts/run.sh [OPTION]...
Build and start queue-broker, event-logger and N notification-processors on
127.0.0.1; Ctrl-C stops them all. Each option can also be set by the
environment variable shown; the flag wins.

  --port N                     PORT                     logger HTTP port (8000)
  --frontend-port N            FRONTEND_PORT            broker port the logger pushes to (5557)
  --backend-port N             BACKEND_PORT             broker port processors pull from (5558)
  --broker-metrics-port N      BROKER_METRICS_PORT      broker /metrics and /healthz (9101)
  --processor-metrics-port N   PROCESSOR_METRICS_PORT   first processor's /metrics; the
                                                        next ones count up from it (9102)
  --processors N               PROCESSORS               processors to start (2)
  -h, --help                   this text

Secure by default, as with Compose: on the first run CURVE certificates for
the broker, the logger and the processors, and a random status token, are
made into the state folder STATE_DIR (default .run; secrets mode 0600) and
reused on later runs; delete the folder for new ones.
EVENT_LOGGER_STATUS_TOKEN, when set, replaces the token (the logger and the
processors share it). Any other EVENT_LOGGER_*, QUEUE_BROKER_* or
NOTIFICATION_PROCESSOR_* variable reaches its service (see each binary's
--help).

A port that is in use stops the start with a message, except a metrics port
left at its default: that one moves to the next free port, and the banner
shows where. Each service's log (standard error) is shown here and kept in
build/run-logs/<service>.log.
USAGE
}

fail () { echo "run.sh: $*" >&2; exit 2; }

#   Option values: flag, else environment, else default. metrics_set_*
#   remember whether the user chose the port (then it must be free).
port=${PORT:-8000}
frontend=${FRONTEND_PORT:-5557}
backend=${BACKEND_PORT:-5558}
broker_metrics=${BROKER_METRICS_PORT:-9101}
processor_metrics=${PROCESSOR_METRICS_PORT:-9102}
processors=${PROCESSORS:-2}
broker_metrics_set=${BROKER_METRICS_PORT:+1}
processor_metrics_set=${PROCESSOR_METRICS_PORT:+1}
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --port|--frontend-port|--backend-port|--broker-metrics-port|\
        --processor-metrics-port|--processors)
            [ $# -ge 2 ] || fail "$1 needs a value (see --help)"
            case "$1" in
                --port)                   port=$2 ;;
                --frontend-port)          frontend=$2 ;;
                --backend-port)           backend=$2 ;;
                --broker-metrics-port)    broker_metrics=$2; broker_metrics_set=1 ;;
                --processor-metrics-port) processor_metrics=$2; processor_metrics_set=1 ;;
                --processors)             processors=$2 ;;
            esac
            shift 2 ;;
        *) fail "unknown option '$1' (see --help)" ;;
    esac
done
for value in "$port" "$frontend" "$backend" "$broker_metrics" "$processor_metrics"; do
    [[ "$value" =~ ^[0-9]+$ ]] && [ "$value" -ge 1 ] && [ "$value" -le 65535 ] \
        || fail "'$value' is not a port (1-65535)"
done
[[ "$processors" =~ ^[0-9]+$ ]] && [ "$processors" -ge 1 ] && [ "$processors" -le 64 ] \
    || fail "--processors must be 1-64, not '$processors'"

. scripts/deps.sh
enp_install build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" \
    --target event-logger queue-broker notification-processor docs-ui >/dev/null

#   Someone listens on 127.0.0.1:PORT (or on every address)
port_busy () { timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }
taken=()
#   claim WHAT PORT: the port must be free
claim () {
    if port_busy "$2" || [[ " ${taken[*]} " == *" $2 "* ]]; then
        fail "port $2 ($1) is in use; pick another (see --help), or find the program" \
             "holding it with: ss -ltnp 'sport = :$2'"
    fi
    taken+=("$2")
}
#   claim_metrics WHAT PORT SET: a default port that is taken moves up to
#   the next free one; a port the user chose must be free. Prints the port.
claim_metrics () {
    local what="$1" candidate="$2"
    if [ -n "$3" ]; then
        claim "$what" "$candidate"
    else
        while port_busy "$candidate" || [[ " ${taken[*]} " == *" $candidate "* ]]; do
            candidate=$((candidate + 1))
            [ "$candidate" -le 65535 ] || fail "no free port for $what from $2 up"
        done
        [ "$candidate" = "$2" ] || echo "run.sh: port $2 is in use; $what uses $candidate" >&2
        taken+=("$candidate")
    fi
    metrics_port=$candidate
}
claim "logger HTTP, --port" "$port"
claim "broker frontend, --frontend-port" "$frontend"
claim "broker backend, --backend-port" "$backend"
claim_metrics "broker metrics" "$broker_metrics" "$broker_metrics_set"
broker_metrics=$metrics_port
processor_ports=()
next=$processor_metrics
for index in $(seq 1 "$processors"); do
    #   Only the first port can be one the user named; the others count up
    set_here=""
    [ "$index" = 1 ] && set_here=$processor_metrics_set
    claim_metrics "processor $index metrics" "$next" "$set_here"
    processor_ports+=("$metrics_port")
    next=$((metrics_port + 1))
done

#   CURVE certificates and the status token, made once into the state
#   folder and reused on later runs
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

logs=build/run-logs
mkdir -p "$logs"
declare -A names=() health=()
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
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

#   start NAME HEALTH_URL COMMAND...: run a service in the background, its
#   standard error shown here and copied to $logs/NAME.log (the copy ignores
#   Ctrl-C so the service's last lines still reach the file as it stops)
start () {
    local name="$1" url="$2"
    shift 2
    : >"$logs/$name.log"
    "$@" 2> >(trap '' INT TERM; tee -a "$logs/$name.log" >&2) &
    pids+=($!)
    names[$!]=$name
    health[$!]=$url
}

#   report PID STATUS: which service ended, how, and the end of its log
report () {
    local pid="$1" status="$2" how
    if [ "$status" -gt 128 ]; then
        how="was killed by SIG$(kill -l "$((status - 128))" 2>/dev/null || echo "$((status - 128))")"
    else
        how="exited with status $status"
    fi
    {
        echo
        echo "run.sh: ${names[$pid]} (pid $pid) $how. Last lines of $logs/${names[$pid]}.log:"
        tail -n 15 "$logs/${names[$pid]}.log" | sed 's/^/    /'
        echo "run.sh: stopping the others."
    } >&2
}

start queue-broker "http://127.0.0.1:$broker_metrics/healthz" \
    build/bin/queue-broker --frontend "tcp://127.0.0.1:$frontend" \
    --backend "tcp://127.0.0.1:$backend" --metrics-host 127.0.0.1 \
    --metrics-port "$broker_metrics" --curve-secret "$keys/broker_secret" \
    --curve-loggers "$keys/loggers" --curve-workers "$keys/workers"
start event-logger "http://127.0.0.1:$port/readyz" \
    build/bin/event-logger --host 127.0.0.1 --port "$port" \
    --broker "tcp://127.0.0.1:$frontend" \
    --curve-secret "$keys/logger_secret" --curve-broker "$keys/broker"
for index in $(seq 1 "$processors"); do
    metrics=${processor_ports[$((index - 1))]}
    start "notification-processor-$index" "http://127.0.0.1:$metrics/healthz" \
        build/bin/notification-processor --broker "tcp://127.0.0.1:$backend" \
        --curve-secret "$keys/worker_secret" --curve-broker "$keys/broker" \
        --logger-url "http://127.0.0.1:$port" --metrics-host 127.0.0.1 \
        --metrics-port "$metrics"
done

#   Ready when every service answers its health check; a service that
#   exits meanwhile ends the start with its report
waiting=("${pids[@]}")
for _ in $(seq 1 150); do
    left=()
    for pid in "${waiting[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            status=0
            wait "$pid" || status=$?
            report "$pid" "$status"
            exit 1
        fi
        curl -fs -o /dev/null "${health[$pid]}" 2>/dev/null || left+=("$pid")
    done
    waiting=("${left[@]}")
    [ ${#waiting[@]} -eq 0 ] && break
    sleep 0.1
done

if [ ${#waiting[@]} -eq 0 ]; then
    state="Event pipeline running: broker, logger and $processors processor(s), all healthy."
else
    late=()
    for pid in "${waiting[@]}"; do late+=("${names[$pid]}"); done
    state="Event pipeline started; not healthy yet after 15 s: ${late[*]} (see $logs/)."
fi
cat <<MSG

  $state
    API           http://127.0.0.1:$port/events
    API docs      http://127.0.0.1:$port/docs   (spec: /openapi.yaml)
    Metrics       logger :$port/metrics, broker :$broker_metrics, processors :${processor_ports[*]}
    Logs          $root/$logs/<service>.log (also shown below)
    Status token  $token   (PATCH needs 'Authorization: Bearer <token>';
                  kept in $state/status-token)
    CURVE         on: certificates in $keys

  Try:
    curl -XPOST 127.0.0.1:$port/events -H 'content-type: application/json' \\
         -d '{"user_id":"u1","description":"hi"}'

  Notifications print below. Ctrl-C stops everything.

MSG

status=0
died=""
wait -n -p died "${pids[@]}" || status=$?
if [ $stopping = 0 ] && [ -n "$died" ]; then
    report "$died" "$status"
    exit 1
fi
