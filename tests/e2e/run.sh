#!/usr/bin/env bash
# End-to-end test of the pipeline in containers: Docker Compose, then a
# single-node Swarm.
#
#   tests/e2e/run.sh                 # everything (needs a running Docker engine
#                                    # and the base image: .ci/docker-setup.sh)
#   E2E_SKIP_SWARM=1 tests/e2e/run.sh
#
# Compose: build the images, start broker + logger + processors, wait until
# healthy; post 500 events and wait until every one is `processed`; scale to 3
# processors, post 3,000 and check all processed and that every replica printed
# some; `docker kill` one processor in the middle of a 5,000-event stream and
# check nothing is lost (the logger redelivers after its visibility timeout,
# set to 5 s here); stop with SIGTERM and check every service exits 0 in
# time. Then the same on a single-node Swarm via `docker stack
# deploy` of the same deploy/docker-compose.yml. Each check also compares the
# processors' stdout with what was posted: every event printed exactly as
# "Event {id} has been sent to {user}: {description}".
#
# Secure by default: no token is given, so the stack must make its own (the
# keys service, into the enp-keys volume): PATCH without it is refused, with
# it accepted, and the links run with CURVE. Then rogue containers on the
# stack's network, without keys, try to inject (an event-logger pushing to
# the broker) and to receive (a notification-processor pulling from it):
# the broker refuses both, nothing forged is printed, the rogue prints
# nothing, and every real event is still processed.
#
# Between the two, the durable variant (deploy/docker-compose.postgres.yml on
# top of the main file): PostgreSQL and two loggers behind HAProxy, from local
# stand-in images; 500 events served by both loggers, then `docker kill` of
# one logger and a restart of the database, each in the middle of a
# 5,000-event stream whose events carry their own Idempotency-Key and are
# retried until accepted: every event processed and printed, each key stored
# exactly once.
#
# Only 127.0.0.1 and the test's own containers are contacted. Everything it
# starts is removed on exit, failed or not (E2E_KEEP=1 keeps the work folder).
#
# Environment (defaults):
#   E2E_PROJECT=enpe2e     compose project and stack name
#   E2E_PORT=8000          host port of the logger
#   E2E_TAG=e2e            image tag (images enp/<service>:$E2E_TAG)
#   E2E_BUILD=1            build the images first (0: use existing ones)
#   E2E_SKIP_SWARM=0       1: no Swarm part
#   E2E_SKIP_COMPOSE=0     1: no in-memory Compose part
#   E2E_SKIP_POSTGRES=0    1: no PostgreSQL part (deploy/docker-compose.postgres.yml)
#   E2E_POSTGRES_IMAGE, E2E_BALANCER_IMAGE   images for the PostgreSQL part
#                          (default: stand-ins built from the Debian base)
#   E2E_VISIBILITY_TIMEOUT=5
#   E2E_PARALLEL=8         curl processes posting or polling at once
#   E2E_N1=500 E2E_N2=3000 E2E_N3=5000   events per phase
#   E2E_PROCESS_TIMEOUT=180   seconds to wait for a phase's events
#   E2E_KILL_MODE=pause-kill  how the processor dies mid-stream: `pause-kill`
#                          freezes it for E2E_PAUSE_SECONDS=1 first (so it holds
#                          events the broker already pushed, like a stuck
#                          worker), then `docker kill`; `kill`: docker kill only
#                          (a fast worker often holds nothing at that instant)
#   E2E_TOTAL_TIMEOUT=1200    seconds for the whole run (then it fails)
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEPLOY=$ROOT/deploy
PROJECT=${E2E_PROJECT:-enpe2e}
PORT=${E2E_PORT:-8000}
BASE_URL=http://127.0.0.1:$PORT
PAR=${E2E_PARALLEL:-8}
N1=${E2E_N1:-500}
N2=${E2E_N2:-3000}
N3=${E2E_N3:-5000}
PROCESS_TIMEOUT=${E2E_PROCESS_TIMEOUT:-180}
KILL_MODE=${E2E_KILL_MODE:-pause-kill}
TOTAL_TIMEOUT=${E2E_TOTAL_TIMEOUT:-1200}
WORK=$(mktemp -d /tmp/enp-e2e.XXXXXX)

# Configuration of the services under test (read by the compose file).
export ENP_REGISTRY=enp
export ENP_TAG=${E2E_TAG:-e2e}
export EVENT_LOGGER_PUBLISHED_PORT=$PORT
export EVENT_LOGGER_VISIBILITY_TIMEOUT=${E2E_VISIBILITY_TIMEOUT:-5}
# No EVENT_LOGGER_STATUS_TOKEN: the stack must make a random one itself
unset EVENT_LOGGER_STATUS_TOKEN NOTIFICATION_PROCESSOR_STATUS_TOKEN
ROGUE_PORT=${E2E_ROGUE_PORT:-$((PORT + 1))}
export NOTIFICATION_PROCESSOR_REPLICAS=1
export ENP_LOG_LEVEL=info

if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
    BUILD_FLAGS=()
elif command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
    BUILD_FLAGS=(--force-rm)
else
    echo "e2e: neither 'docker compose' nor docker-compose is installed" >&2
    exit 2
fi
# The override file adds the depends_on health conditions (see its header).
DC=("${COMPOSE[@]}" -p "$PROJECT" --env-file "$DEPLOY/.env.example"
        -f "$DEPLOY/docker-compose.yml" -f "$DEPLOY/docker-compose.override.yml")

T_START=$(date +%s.%N)
MODE=""            # compose | swarm: what cleanup has to undo
SWARM_CREATED=0
FAILED=0
STEP_LINES=()

ts() { date -u +%H:%M:%S; }
log() { printf '[e2e %s] %s\n' "$(ts)" "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
fail() { log "FAIL: $*"; FAILED=1; return 1; }
total_left() { awk -v a="$T_START" -v b="$(now)" -v t="$TOTAL_TIMEOUT" 'BEGIN { printf "%d", t - (b - a) }'; }

# step NAME COMMAND...: run, time and record one step; stop the run on failure.
step() {
    local name=$1; shift
    local t0; t0=$(now)
    if (( $(total_left) <= 0 )); then
        fail "total time limit of ${TOTAL_TIMEOUT}s reached before: $name"
        exit 1
    fi
    log "== $name"
    local rc=0
    "$@" || rc=$?
    local secs; secs=$(elapsed "$t0")
    if (( rc == 0 )); then
        STEP_LINES+=("$(printf '%-68s %7ss  ok' "$name" "$secs")")
        log "   ok ($secs s)"
    else
        STEP_LINES+=("$(printf '%-68s %7ss  FAILED' "$name" "$secs")")
        FAILED=1
        log "   FAILED ($secs s)"
        exit 1
    fi
}

# --- cleanup -------------------------------------------------------------

dump_logs() {
    local dir=$WORK/logs
    mkdir -p "$dir"
    local id name
    for id in $(docker ps -aq --filter "label=com.docker.stack.namespace=$PROJECT" 2>/dev/null) \
                        $(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null); do
        name=$(docker inspect --format '{{.Name}}' "$id" 2>/dev/null | tr -d /) || continue
        [[ -f $dir/$name.log ]] && continue
        timeout 20 docker logs "$id" >"$dir/$name.log" 2>&1 || true
    done
    log "container logs kept in $dir"
    local f
    for f in "$dir"/*.log; do
        [[ -f $f ]] || continue
        echo "----- last stderr/stdout lines of $(basename "$f" .log)"
        grep -v ' has been sent to ' "$f" | tail -n 15 || true
    done
}

rogue_remove() {
    docker rm -f "$PROJECT-rogue-push" "$PROJECT-rogue-pull" >/dev/null 2>&1 || true
}

compose_down() {
    rogue_remove
    timeout 120 "${DC[@]}" down -v --remove-orphans -t 10 >"$WORK/down.log" 2>&1 ||
        { log "compose down failed:"; tail -n 20 "$WORK/down.log"; return 1; }
}

stack_remove() {
    timeout 60 docker stack rm "$PROJECT" >/dev/null 2>&1 || true
    local deadline=$((SECONDS + 90))
    while (( SECONDS < deadline )); do
        if [[ -z $(docker ps -aq --filter "label=com.docker.stack.namespace=$PROJECT") ]] &&
              [[ -z $(docker network ls -q --filter "label=com.docker.stack.namespace=$PROJECT") ]]; then
            return 0
        fi
        sleep 1
    done
    log "stack $PROJECT still has containers or networks after 90 s"
    return 1
}

swarm_leave() {
    if (( SWARM_CREATED )); then
        timeout 60 docker swarm leave --force >/dev/null 2>&1 || true
        SWARM_CREATED=0
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    (( rc != 0 )) && FAILED=1
    if (( FAILED )) && [[ -n $MODE ]]; then
        dump_logs
    fi
    case $MODE in
        compose) log "cleanup: compose down -v"; compose_down ;;
        swarm) log "cleanup: stack rm"; stack_remove ;;
        *) rogue_remove ;;
    esac
    swarm_leave
    echo
    echo "e2e steps (wall time):"
    local l
    for l in "${STEP_LINES[@]}"; do echo "  $l"; done
    printf '  %-68s %7ss\n' "total" "$(elapsed "$T_START")"
    local passed=0 failed=0
    for l in "${STEP_LINES[@]}"; do
        if [[ $l == *FAILED ]]; then failed=$((failed + 1)); else passed=$((passed + 1)); fi
    done
    (( FAILED && failed == 0 )) && failed=1
    if (( FAILED )); then
        echo "e2e: FAILED (work folder: $WORK)"
        echo "e2e: $passed passed, $failed failed"
        exit 1
    fi
    [[ ${E2E_KEEP:-0} == 1 ]] || rm -rf "$WORK"
    echo "e2e: PASSED"
    echo "e2e: $passed passed, $failed failed"
    exit 0
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# --- HTTP helpers ---------------------------------------------------------

# post_events COUNT LABEL OUT: POST COUNT events with PAR keep-alive curl
# processes; OUT gets "event_id<TAB>user_id<TAB>description" per created event.
# With POST_KEYED=1 each event carries its own Idempotency-Key and is retried
# (connection refused, 5xx) until it is accepted.
post_events() {
    local count=$1 label=$2 out=$3
    local dir=$WORK/post-$label
    mkdir -p "$dir"
    local chunk=$(( (count + PAR - 1) / PAR ))
    local p
    for ((p = 0; p < PAR; p++)); do
        local first=$((p * chunk)) last=$(( (p + 1) * chunk ))
        (( last > count )) && last=$count
        (( first >= last )) && continue
        awk -v first="$first" -v last="$last" -v url="$BASE_URL/events" -v label="$label" \
            -v keyed="${POST_KEYED:-0}" 'BEGIN {
            for (i = first; i < last; i++) {
                if (i > first) print "next"
                printf "url = \"%s\"\n", url
                print "header = \"Content-Type: application/json\""
                if (keyed) {
                    # Each event has its key and is retried until it is accepted
                    printf "header = \"Idempotency-Key: e2e-%s-%d\"\n", label, i
                    print "retry = 90"
                    print "retry-delay = 1"
                    print "retry-all-errors"
                    print "retry-max-time = 240"
                }
                printf "data = \"{\\\"user_id\\\":\\\"user-%d\\\",\\\"description\\\":\\\"%s event %d\\\"}\"\n", i % 97, label, i
                print "max-time = 20"
                print "write-out = \"\\n~~ %{http_code}\\n\""
            }
        }' >"$dir/$p.cfg"
    done
    local pids=() cfg
    for cfg in "$dir"/*.cfg; do
        curl -sS --config "$cfg" >"${cfg%.cfg}.out" 2>"${cfg%.cfg}.err" &
        pids+=($!)
    done
    local rc=0 pid
    for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
    # Bodies are single JSON objects; the "~~ code" line closes each transfer.
    cat "$dir"/*.out | awk -v bad="$dir/bad.txt" '
        /^~~ / {
            if ($2 == "201" && match(body, /"event_id" *: *"[0-9a-f-]+"/)) {
                id = substr(body, RSTART, RLENGTH); sub(/.*: *"/, "", id); sub(/"$/, "", id)
                match(body, /"user_id" *: *"[^"]*"/); u = substr(body, RSTART, RLENGTH); sub(/.*: *"/, "", u); sub(/"$/, "", u)
                match(body, /"description" *: *"[^"]*"/); d = substr(body, RSTART, RLENGTH); sub(/.*: *"/, "", d); sub(/"$/, "", d)
                print id "\t" u "\t" d
            } else {
                print $2 " " body >> bad
            }
            body = ""; next
        }
        { body = body $0 }' >"$out"
    local created; created=$(wc -l <"$out")
    if [[ -s $dir/bad.txt ]]; then
        log "   $(wc -l <"$dir/bad.txt") POSTs did not answer 201, e.g.: $(head -n 2 "$dir/bad.txt" | cut -c1-200)"
    fi
    if [[ -n $(cat "$dir"/*.err) ]]; then
        log "   curl said: $(cat "$dir"/*.err | sort | uniq -c | sort -rn | head -n 3 | tr '\n' ' ')"
    fi
    if (( created != count )); then
        fail "posted $count events, $created created (201)"
        return 1
    fi
}

# poll_status IDS OUT: GET /events/{id} for every id in IDS (one per line);
# OUT gets "id<TAB>status" ("?" when the GET failed).
poll_status() {
    local ids=$1 out=$2
    local dir; dir=$(mktemp -d "$WORK/poll.XXXXXX")
    local n; n=$(wc -l <"$ids")
    local chunk=$(( (n + PAR - 1) / PAR ))
    (( chunk < 1 )) && chunk=1
    split -l "$chunk" -d -a 3 "$ids" "$dir/ids."
    local f pids=()
    for f in "$dir"/ids.*; do
        awk -v base="$BASE_URL/events/" '{
                if (NR > 1) print "next"
                printf "url = \"%s%s\"\n", base, $1
                print "max-time = 20"
                print "write-out = \"\\n~~ %{http_code} %{url_effective}\\n\""
            }' "$f" >"$f.cfg"
        curl -sS --config "$f.cfg" >"$f.out" 2>/dev/null &
        pids+=($!)
    done
    local pid
    for pid in "${pids[@]}"; do wait "$pid" || true; done
    cat "$dir"/ids.*.out | awk '
        /^~~ / {
            id = $3; sub(/.*\//, "", id); st = "?"
            if ($2 == "200" && match(body, /"status" *: *"[^"]*"/)) {
                st = substr(body, RSTART, RLENGTH); sub(/.*: *"/, "", st); sub(/"$/, "", st)
            } else if ($2 != "200") {
                st = "http-" $2
            }
            print id "\t" st; body = ""; next
        }
        { body = body $0 }' >"$out"
    rm -rf "$dir"
}

# wait_processed POSTED LABEL: poll until every posted event is `processed`.
wait_processed() {
    local posted=$1 label=$2
    local pending=$WORK/$label.pending status=$WORK/$label.status
    cut -f1 "$posted" >"$pending"
    local total; total=$(wc -l <"$pending")
    local deadline=$((SECONDS + PROCESS_TIMEOUT)) rounds=0
    while :; do
        rounds=$((rounds + 1))
        poll_status "$pending" "$status"
        awk -F'\t' '$2 != "processed" { print $1 }' "$status" >"$pending.next"
        # an id the poll lost (no answer line) stays pending
        sort -u "$pending" >"$pending.all"
        cut -f1 "$status" | sort -u | comm -23 "$pending.all" - >>"$pending.next"
        mv "$pending.next" "$pending"
        local left; left=$(wc -l <"$pending")
        if (( left == 0 )); then
            log "   all $total events processed (checked in $rounds polling rounds)"
            return 0
        fi
        if (( SECONDS >= deadline )); then
            log "   $left of $total events not processed after ${PROCESS_TIMEOUT}s; by status:"
            awk -F'\t' '$2 != "processed" { print $2 }' "$status" | sort | uniq -c | sed 's/^/      /'
            log "   e.g.: $(head -n 3 "$pending" | tr '\n' ' ')"
            local one; one=$(head -n 1 "$pending")
            log "   GET /events/$one: $(curl -s -m 5 "$BASE_URL/events/$one" | cut -c1-300)"
            fail "events lost or stuck ($label)"
            return 1
        fi
        sleep 1
    done
}

# metric NAME: sum of a Prometheus counter/gauge over its label sets (0 if absent).
metric() {
    curl -s -m 5 "$BASE_URL/metrics" 2>/dev/null |
        awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%d", s }'
}

# --- container helpers ----------------------------------------------------

# processor_containers [all]: ids of the processor containers (running, or all).
processor_containers() {
    local all=()
    [[ ${1:-} == all ]] && all=(-a)
    if [[ $MODE == swarm ]]; then
        docker ps -q "${all[@]}" --filter "label=com.docker.swarm.service.name=${PROJECT}_notification-processor"
    else
        docker ps -q "${all[@]}" --filter "label=com.docker.compose.project=$PROJECT" \
            --filter "label=com.docker.compose.service=notification-processor"
    fi
}

container_name() { docker inspect --format '{{.Name}}' "$1" | tr -d /; }

# check_printed POSTED LABEL SINCE MIN_REPLICAS: every posted event was printed
# by some processor exactly as the contract says; at least MIN_REPLICAS
# processors printed some of them. SINCE: unix time the phase started.
check_printed() {
    local posted=$1 label=$2 since=$3 min_replicas=$4
    local dir=$WORK/printed-$label
    mkdir -p "$dir"
    local id printers=0
    for id in $(processor_containers all); do
        local name; name=$(container_name "$id")
        timeout 60 docker logs --since "$since" "$id" 2>/dev/null |
            grep -E '^Event [0-9a-f-]{36} has been sent to ' >"$dir/$name.txt" || true
        local n; n=$(wc -l <"$dir/$name.txt")
        log "   $name printed $n notification lines"
        (( n > 0 )) && printers=$((printers + 1))
    done
    awk -F'\t' '{ printf "Event %s has been sent to %s: %s\n", $1, $2, $3 }' "$posted" | sort -u >"$dir/expected"
    cat "$dir"/*.txt | sort >"$dir/printed.all"
    sort -u "$dir/printed.all" >"$dir/printed"
    local missing dups
    missing=$(comm -23 "$dir/expected" "$dir/printed" | wc -l)
    dups=$(( $(wc -l <"$dir/printed.all") - $(wc -l <"$dir/printed") ))
    log "   $(wc -l <"$dir/expected") events posted, $missing not printed, $dups printed more than once (redeliveries)"
    if (( missing > 0 )); then
        log "   e.g. missing: $(comm -23 "$dir/expected" "$dir/printed" | head -n 2 | tr '\n' '|')"
        fail "$missing events were never printed by a processor ($label)"
        return 1
    fi
    if (( printers < min_replicas )); then
        fail "only $printers processor(s) printed lines, expected $min_replicas ($label)"
        return 1
    fi
}

# wait_healthy SERVICES...: all containers of the deployment running and
# healthy, with the expected count per service ("name=count").
wait_healthy() {
    local deadline=$((SECONDS + 150))
    while :; do
        local ok=1 spec
        for spec in "$@"; do
            local svc=${spec%=*} want=${spec#*=} ids
            if [[ $MODE == swarm ]]; then
                ids=$(docker ps -q --filter "label=com.docker.swarm.service.name=${PROJECT}_$svc")
            else
                ids=$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" \
                                                    --filter "label=com.docker.compose.service=$svc")
            fi
            local healthy=0 id
            for id in $ids; do
                [[ $(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id" 2>/dev/null) == healthy ]] &&
                    healthy=$((healthy + 1))
            done
            (( healthy == want )) || ok=0
            [[ $ok == 1 ]] || { last="$svc: $healthy/$want healthy"; break; }
        done
        if [[ $ok == 1 ]] && [[ $(curl -s -m 3 -o /dev/null -w '%{http_code}' "$BASE_URL/healthz") == 200 ]]; then
            log "   healthy: $*; GET /healthz 200"
            return 0
        fi
        if (( SECONDS >= deadline )); then
            fail "not healthy after 150 s (${last:-logger /healthz not answering})"
            return 1
        fi
        sleep 1
    done
}

# --- the flow, shared by Compose and Swarm ---------------------------------

# phase_simple N LABEL: post N events, wait until processed, check the prints.
phase_simple() {
    local n=$1 label=$2 min_replicas=$3
    local since; since=$(date +%s)
    local t0; t0=$(now)
    post_events "$n" "$label" "$WORK/$label.posted" || return 1
    local post_secs; post_secs=$(elapsed "$t0")
    log "   posted $n events in ${post_secs}s ($(awk -v n="$n" -v s="$post_secs" 'BEGIN { printf "%d", (s > 0 ? n / s : n) }') req/s)"
    wait_processed "$WORK/$label.posted" "$label" || return 1
    log "   posted → all processed in $(elapsed "$t0")s"
    check_printed "$WORK/$label.posted" "$label" "$since" "$min_replicas"
}

# phase_kill N LABEL: post N events in the background, docker kill one
# processor once about a third is accepted, then check nothing was lost.
phase_kill() {
    local n=$1 label=$2
    local since; since=$(date +%s)
    local created0 redelivered0
    created0=$(metric events_created_total)
    redelivered0=$(metric events_redelivered_total)
    local victim; victim=$(processor_containers | head -n 1)
    [[ -n $victim ]] || { fail "no running processor to kill"; return 1; }
    local victim_name; victim_name=$(container_name "$victim")
    local t0; t0=$(now)
    post_events "$n" "$label" "$WORK/$label.posted" &
    local poster=$!
    local deadline=$((SECONDS + 60)) killed=0
    while (( SECONDS < deadline )); do
        local created; created=$(metric events_created_total)
        if (( created - created0 >= n / 3 )); then
            if [[ $KILL_MODE == pause-kill ]]; then
                # Freeze it first, as a stuck worker: the broker keeps pushing to it
                # until its pipe is full, so it dies holding events in flight.
                docker pause "$victim" >/dev/null
                sleep "${E2E_PAUSE_SECONDS:-1}"
            fi
            docker kill "$victim" >/dev/null
            killed=1
            log "   docker ${KILL_MODE/-/ + docker } $victim_name after $((created - created0)) of $n events were accepted ($(elapsed "$t0")s in)"
            break
        fi
        kill -0 "$poster" 2>/dev/null || break
        sleep 0.1
    done
    if (( ! killed )); then
        docker kill "$victim" >/dev/null 2>&1 || true
        log "   docker kill $victim_name (metric events_created_total not seen growing; killed at $(elapsed "$t0")s)"
    fi
    wait "$poster" || return 1
    log "   posted $n events in $(elapsed "$t0")s"
    wait_processed "$WORK/$label.posted" "$label" || return 1
    log "   posted → all processed in $(elapsed "$t0")s; logger redelivered $(( $(metric events_redelivered_total) - redelivered0 )) events"
    local state; state=$(docker inspect --format '{{.State.Status}} (restarts {{.RestartCount}})' "$victim" 2>/dev/null || echo gone)
    log "   killed processor $victim_name is now: $state"
    check_printed "$WORK/$label.posted" "$label" "$since" 1
}

# --- Compose ----------------------------------------------------------------

preflight() {
    timeout 20 docker info >/dev/null 2>&1 || { fail "Docker engine not answering (run .ci/docker-setup.sh)"; return 1; }
    command -v curl >/dev/null || { fail "curl is needed on the host"; return 1; }
    if curl -s -m 2 -o /dev/null "$BASE_URL/healthz"; then
        fail "something already answers on $BASE_URL; set E2E_PORT"
        return 1
    fi
    # leftovers of an interrupted earlier run
    timeout 60 "${DC[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
    if docker stack ls 2>/dev/null | awk 'NR > 1 { print $1 }' | grep -qx "$PROJECT"; then
        stack_remove || true
    fi
    log "   using ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || echo ?)), engine $(docker version --format '{{.Server.Version}}')"
}

build_images() {
    if [[ ${E2E_BUILD:-1} != 1 ]]; then
        log "   E2E_BUILD=0: using existing images"
    else
        docker image inspect "${E2E_BASE_IMAGE:-debian:bookworm-slim}" >/dev/null 2>&1 ||
            { fail "base image missing: run scripts/docker-base-image.sh"; return 1; }
        if ! timeout 1200 "${DC[@]}" build "${BUILD_FLAGS[@]}" >"$WORK/build.log" 2>&1; then
            tail -n 40 "$WORK/build.log"
            fail "image build failed (log: $WORK/build.log)"
            return 1
        fi
    fi
    local s
    for s in queue-broker event-logger notification-processor; do
        docker image inspect "enp/$s:$ENP_TAG" >/dev/null 2>&1 || { fail "image enp/$s:$ENP_TAG missing"; return 1; }
        log "   enp/$s:$ENP_TAG $(docker image inspect --format '{{.Size}}' "enp/$s:$ENP_TAG" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
    done
}

compose_up() {
    MODE=compose
    timeout 300 "${DC[@]}" up -d --no-build --scale notification-processor=1 >"$WORK/up.log" 2>&1 ||
        { tail -n 30 "$WORK/up.log"; fail "compose up failed"; return 1; }
    wait_healthy queue-broker=1 event-logger=1 notification-processor=1
}

# The stack made its own token and certificates: PATCH needs the token
# from the keys volume, and the services run with CURVE.
secure_default_check() {
    local token
    token=$(timeout 60 "${DC[@]}" run --rm -T keys 'cat /run/enp/status-token' 2>/dev/null) ||
        { fail "cannot read the status token from the keys volume"; return 1; }
    [[ ${#token} -ge 32 && $token != change-me* ]] || { fail "status token '$token' is not a random one"; return 1; }
    local id
    id=$(curl -s -m 5 -H 'content-type: application/json' -d '{"user_id":"sec","description":"token check"}' \
              "$BASE_URL/events" | sed -n 's/.*"event_id":"\([^"]*\)".*/\1/p')
    [[ -n $id ]] || { fail "could not create an event"; return 1; }
    local code
    code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X PATCH -H 'content-type: application/json' \
                  -d '{"status":"checked"}' "$BASE_URL/events/$id")
    [[ $code == 401 ]] || { fail "PATCH without the token answered $code, not 401"; return 1; }
    code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X PATCH -H 'content-type: application/json' \
                  -H "Authorization: Bearer $token" -d '{"status":"checked"}' "$BASE_URL/events/$id")
    [[ $code == 200 ]] || { fail "PATCH with the volume's token answered $code, not 200"; return 1; }
    local svc logs
    for svc in queue-broker event-logger notification-processor; do
        logs=$(timeout 20 "${DC[@]}" logs --no-color "$svc" 2>&1)
        grep -q 'CURVE on' <<<"$logs" || { fail "$svc does not say CURVE on"; return 1; }
        ! grep -q 'CURVE off' <<<"$logs" || { fail "$svc runs with CURVE off"; return 1; }
    done
    log "   random status token (${#token} characters) required; CURVE on in all three"
}

# Rogue containers without keys on the stack's network: one injects through
# an event-logger of its own, one pulls as a notification-processor.
rogue_check() {
    local net; net=$(docker inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' \
                                      "$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" \
                                            --filter "label=com.docker.compose.service=queue-broker" | head -n 1)" | awk '{ print $1 }')
    [[ -n $net ]] || { fail "cannot find the stack's network"; return 1; }
    docker run -d --name "$PROJECT-rogue-pull" --network "$net" --read-only \
        -e NOTIFICATION_PROCESSOR_BROKER=tcp://queue-broker:5558 \
        -e NOTIFICATION_PROCESSOR_LOGGER_URL=http://event-logger:8000 \
        "enp/notification-processor:$ENP_TAG" >/dev/null || { fail "rogue processor did not start"; return 1; }
    docker run -d --name "$PROJECT-rogue-push" --network "$net" --read-only \
        -p "127.0.0.1:$ROGUE_PORT:8000" -e EVENT_LOGGER_BROKER=tcp://queue-broker:5557 \
        "enp/event-logger:$ENP_TAG" >/dev/null || { fail "rogue logger did not start"; return 1; }
    local deadline=$((SECONDS + 60))
    until curl -s -m 2 -o /dev/null "http://127.0.0.1:$ROGUE_PORT/healthz"; do
        (( SECONDS < deadline )) || { fail "rogue logger never answered"; return 1; }
        sleep 0.5
    done
    local i
    for i in 1 2 3 4 5; do
        curl -s -m 5 -o /dev/null -H 'content-type: application/json' \
            -d "{\"user_id\":\"victim\",\"description\":\"ROGUE-$i\"}" "http://127.0.0.1:$ROGUE_PORT/events"
    done
    # Positive signal: the broker logged refusing both rogues
    deadline=$((SECONDS + 60))
    local refused=0
    while (( SECONDS < deadline )); do
        refused=$(timeout 20 "${DC[@]}" logs --no-color queue-broker 2>&1 | grep -c 'refused a .* connection on the' || true)
        grep -q 'on the frontend' <<<"$(timeout 20 "${DC[@]}" logs --no-color queue-broker 2>&1)" &&
            grep -q 'on the backend' <<<"$(timeout 20 "${DC[@]}" logs --no-color queue-broker 2>&1)" && break
        sleep 1
    done
    (( refused >= 2 )) || { fail "the broker did not log refusing the rogues"; return 1; }
    # Real events are all processed meanwhile, by the real processor only
    phase_simple 200 rogue 1 || return 1
    local pending
    pending=$(curl -s -m 5 "http://127.0.0.1:$ROGUE_PORT/events?status=pending&limit=100" | grep -o '"ROGUE-' | wc -l)
    [[ $pending == 5 ]] || { fail "the rogue's events are not all stuck pending ($pending of 5)"; return 1; }
    local forged=0 id
    for id in $(processor_containers all); do
        forged=$((forged + $(docker logs "$id" 2>/dev/null | grep -c 'ROGUE-' || true)))
    done
    (( forged == 0 )) || { fail "$forged forged line(s) printed"; return 1; }
    local stolen; stolen=$(docker logs "$PROJECT-rogue-pull" 2>/dev/null | grep -c ' has been sent to ' || true)
    (( stolen == 0 )) || { fail "the rogue processor received $stolen event(s)"; return 1; }
    log "   broker refused $refused rogue connection(s); nothing injected, nothing received"
    rogue_remove
}

compose_scale() {
    timeout 300 "${DC[@]}" up -d --no-build --no-recreate --scale notification-processor=3 >"$WORK/scale.log" 2>&1 ||
        { tail -n 30 "$WORK/scale.log"; fail "compose scale failed"; return 1; }
    wait_healthy queue-broker=1 event-logger=1 notification-processor=3
}

# SIGTERM (the images' STOPSIGNAL) must end every service quickly with exit
# code 0; Compose waits 10 s before it sends SIGKILL (exit code 137).
compose_stop_check() {
    local running; running=$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT")
    local t0; t0=$(now)
    timeout 120 "${DC[@]}" stop -t 10 >"$WORK/stop.log" 2>&1 ||
        { tail -n 20 "$WORK/stop.log"; fail "compose stop failed"; return 1; }
    log "   compose stop of $(echo "$running" | wc -w) containers took $(elapsed "$t0")s"
    local id bad=0
    for id in $running; do
        local info; info=$(docker inspect --format '{{.Name}} {{.State.ExitCode}} {{.State.StartedAt}} {{.State.FinishedAt}}' "$id")
        local name code
        read -r name code _ <<<"$info"
        log "   ${name#/} exited with code $code"
        [[ $code == 0 ]] || bad=$((bad + 1))
    done
    (( bad == 0 )) || { fail "$bad service(s) did not exit 0 on SIGTERM within 10 s"; return 1; }
}

compose_down_step() {
    compose_down || return 1
    MODE=""
    [[ -z $(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT") ]] ||
        { fail "containers left after down"; return 1; }
}

# --- Swarm ------------------------------------------------------------------

swarm_init() {
    local state; state=$(docker info --format '{{.Swarm.LocalNodeState}}')
    case $state in
        inactive)
            timeout 60 docker swarm init --advertise-addr 127.0.0.1 >/dev/null || { fail "swarm init failed"; return 1; }
            SWARM_CREATED=1
            log "   single-node swarm created" ;;
        active)
            [[ $(docker info --format '{{.Swarm.ControlAvailable}}') == true ]] ||
                { fail "this node is a swarm worker; stacks need a manager"; return 1; }
            log "   reusing the swarm this node is already in (it will not be left)" ;;
        *) fail "swarm state '$state'"; return 1 ;;
    esac
    # A swarm task pulls its image from a registry first unless the engine runs
    # with DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 (.ci/docker-setup.sh sets it).
    local pid; pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [[ -n $pid && -r /proc/$pid/environ ]] &&
          ! tr '\0' '\n' </proc/"$pid"/environ | grep -qx 'DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1'; then
        log "   note: dockerd runs without DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1, so tasks try a registry pull first (it fails, local images are used)"
    fi
}

stack_deploy() {
    MODE=swarm
    timeout 120 docker stack deploy --resolve-image never -c "$DEPLOY/docker-compose.yml" "$PROJECT" >"$WORK/stack.log" 2>&1 ||
        { cat "$WORK/stack.log"; fail "stack deploy failed"; return 1; }
    grep -i 'ignor' "$WORK/stack.log" | sed 's/^/   stack deploy: /' || true
    wait_healthy queue-broker=1 event-logger=1 notification-processor=1
}

stack_scale() {
    timeout 120 docker service scale --detach "${PROJECT}_notification-processor=3" >/dev/null ||
        { fail "service scale failed"; return 1; }
    wait_healthy queue-broker=1 event-logger=1 notification-processor=3
}

stack_rm_step() {
    stack_remove || { fail "stack rm did not finish"; return 1; }
    MODE=""
    swarm_leave
}

# --- run ----------------------------------------------------------------------

log "work folder $WORK; logger at $BASE_URL; visibility timeout ${EVENT_LOGGER_VISIBILITY_TIMEOUT}s"
step "preflight (engine, port $PORT free, leftovers removed)" preflight
step "build images (deploy/Dockerfile, 3 targets)" build_images

if [[ ${E2E_SKIP_COMPOSE:-0} == 1 ]]; then
    log "E2E_SKIP_COMPOSE=1: in-memory Compose part skipped"
else
    step "compose: up (1 processor), wait until healthy" compose_up
    step "compose: $N1 events processed" phase_simple "$N1" c1 1
    step "compose: secure by default (own random token, CURVE on)" secure_default_check
    step "compose: rogue containers cannot inject or receive" rogue_check
    step "compose: scale to 3 processors, wait until healthy" compose_scale
    step "compose: $N2 events processed, all 3 replicas printed" phase_simple "$N2" c2 3
    step "compose: $N3 events, docker kill 1 processor mid-stream, none lost" phase_kill "$N3" c3
    step "compose: stop (SIGTERM), every service exits 0 within 10 s" compose_stop_check
    step "compose: down -v" compose_down_step
fi

# The durable, scaled-out variant: PostgreSQL, two loggers behind HAProxy
# (deploy/docker-compose.postgres.yml over the main file)
# shellcheck source=tests/e2e/postgres.sh
. "$ROOT/tests/e2e/postgres.sh"
if [[ ${E2E_SKIP_POSTGRES:-0} == 1 ]]; then
    log "E2E_SKIP_POSTGRES=1: PostgreSQL part skipped"
else
    step "postgres: stand-in images (postgres, haproxy) from the Debian base" pg_standin_images
    step "postgres: up (PostgreSQL, 2 loggers behind HAProxy), wait until healthy" pg_up
    step "postgres: $N1 events through the balancer, both loggers served" pg_phase_simple "$N1" p1
    step "postgres: $N3 events, docker kill 1 logger mid-stream, none lost" pg_phase_fault "$N3" p2 kill-logger
    step "postgres: $N3 events, PostgreSQL restarted mid-stream, none lost" pg_phase_fault "$N3" p3 restart-db
    step "postgres: stop (SIGTERM), every service exits 0 within 10 s" compose_stop_check
    step "postgres: down -v" compose_down_step
fi

if [[ ${E2E_SKIP_SWARM:-0} == 1 ]]; then
    log "E2E_SKIP_SWARM=1: swarm part skipped"
else
    step "swarm: init single-node swarm" swarm_init
    step "swarm: stack deploy (1 processor), wait until healthy" stack_deploy
    step "swarm: $N1 events processed" phase_simple "$N1" s1 1
    step "swarm: scale to 3 processors, wait until healthy" stack_scale
    step "swarm: $N2 events processed, all 3 replicas printed" phase_simple "$N2" s2 3
    step "swarm: $N3 events, docker kill 1 processor mid-stream, none lost" phase_kill "$N3" s3
    step "swarm: stack rm, leave swarm" stack_rm_step
fi
