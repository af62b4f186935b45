# tests/e2e/postgres.sh - the PostgreSQL part of tests/e2e/run.sh, sourced by
# it (it uses run.sh's helpers: log, fail, post_events, wait_processed,
# check_printed, wait_healthy, compose_down).
#
# deploy/docker-compose.postgres.yml over the main file: PostgreSQL, two
# loggers sharing it, HAProxy in front (published on $PORT), processors
# reporting through HAProxy. Nothing can be pulled here, so the official
# postgres and haproxy images are replaced by stand-ins built from the local
# Debian base (tests/e2e/standins/); the compose file itself names the
# official images.

PG_STANDIN_IMAGE=enp-standin/postgres:15
LB_STANDIN_IMAGE=enp-standin/haproxy:2.6
export ENP_POSTGRES_IMAGE=${E2E_POSTGRES_IMAGE:-$PG_STANDIN_IMAGE}
export ENP_BALANCER_IMAGE=${E2E_BALANCER_IMAGE:-$LB_STANDIN_IMAGE}
export POSTGRES_PASSWORD=e2e$RANDOM$RANDOM$RANDOM
export EVENT_LOGGER_REPLICAS=2
DCP=("${COMPOSE[@]}" -p "$PROJECT" --env-file "$DEPLOY/.env.example"
          -f "$DEPLOY/docker-compose.yml" -f "$DEPLOY/docker-compose.postgres.yml")

# Build the stand-in images (unless other images were named).
pg_standin_images() {
    local name dir image
    for name in postgres haproxy; do
        if [[ $name == postgres ]]; then image=$ENP_POSTGRES_IMAGE; else image=$ENP_BALANCER_IMAGE; fi
        dir=$ROOT/tests/e2e/standins/$name
        if [[ $image != "$PG_STANDIN_IMAGE" && $image != "$LB_STANDIN_IMAGE" ]]; then
            docker image inspect "$image" >/dev/null 2>&1 || { fail "image $image not found"; return 1; }
            log "   using $image"
            continue
        fi
        if ! timeout 900 docker build --build-arg "BASE_IMAGE=${E2E_BASE_IMAGE:-debian:bookworm-slim}" \
                      -t "$image" "$dir" >"$WORK/standin-$name.log" 2>&1; then
            tail -n 30 "$WORK/standin-$name.log"
            fail "stand-in image $image did not build"
            return 1
        fi
        log "   $image $(docker image inspect --format '{{.Size}}' "$image" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
    done
}

# Run SQL in the database container; prints the answer.
pg_sql() {
    local id; id=$(service_containers postgres | head -n 1)
    docker exec "$id" psql -U events -d events -tA -c "$1"
}

# Ids of the running containers of a compose service.
service_containers() {
    docker ps -q --filter "label=com.docker.compose.project=$PROJECT" \
        --filter "label=com.docker.compose.service=$1"
}

pg_up() {
    # From here on run.sh's compose helpers (down, stop check) use both files
    DC=("${DCP[@]}")
    MODE=compose
    timeout 300 "${DC[@]}" up -d --no-build --scale notification-processor=2 >"$WORK/pg-up.log" 2>&1 ||
        { tail -n 30 "$WORK/pg-up.log"; fail "compose up (postgres) failed"; return 1; }
    wait_healthy queue-broker=1 postgres=1 event-logger-pg=2 notification-processor=2
}

# Every stored key of a phase exactly once, and as many as were posted.
pg_check_stored() {
    local label=$1 posted=$2
    local rows keys
    rows=$(pg_sql "SELECT count (*) FROM events WHERE idempotency_key LIKE 'e2e-$label-%'")
    keys=$(pg_sql "SELECT count (DISTINCT idempotency_key) FROM events WHERE idempotency_key LIKE 'e2e-$label-%'")
    log "   database: $rows events stored for $posted posted, $keys distinct keys"
    [[ $rows == "$posted" && $keys == "$posted" ]] || { fail "stored $rows events ($keys keys) for $posted posted ($label)"; return 1; }
}

# Each logger answered some of the phase's requests: read its own /metrics at
# its container address (the balancer is the only published port).
pg_check_loggers_served() {
    local id address created served=0
    for id in $(service_containers event-logger-pg); do
        address=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$id" | awk '{ print $1 }')
        created=$(curl -s -m 5 "http://$address:8000/metrics" | awk '$1 == "events_created_total" { print $2 }')
        log "   $(container_name "$id") created ${created:-?} events"
        (( ${created:-0} > 0 )) && served=$((served + 1))
    done
    (( served >= 2 )) || { fail "only $served logger(s) behind the balancer created events"; return 1; }
}

# pg_phase_simple N LABEL: N keyed events through the balancer, all processed.
pg_phase_simple() {
    local n=$1 label=$2
    local since; since=$(date +%s)
    POST_KEYED=1 post_events "$n" "$label" "$WORK/$label.posted" || return 1
    wait_processed "$WORK/$label.posted" "$label" || return 1
    pg_check_stored "$label" "$n" || return 1
    pg_check_loggers_served || return 1
    check_printed "$WORK/$label.posted" "$label" "$since" 1
}

# pg_phase_fault N LABEL FAULT: stream N keyed events; once a third is
# stored, FAULT: kill-logger (docker kill one logger; started again after)
# or restart-db (docker restart of PostgreSQL). None may be lost.
pg_phase_fault() {
    local n=$1 label=$2 fault=$3
    local since; since=$(date +%s)
    local t0; t0=$(now)
    POST_KEYED=1 post_events "$n" "$label" "$WORK/$label.posted" &
    local poster=$! victim="" deadline=$((SECONDS + 120)) stored=0
    while (( SECONDS < deadline )); do
        stored=$(pg_sql "SELECT count (*) FROM events WHERE idempotency_key LIKE 'e2e-$label-%'" 2>/dev/null || echo 0)
        (( ${stored:-0} >= n / 3 )) && break
        kill -0 "$poster" 2>/dev/null || break
        sleep 0.2
    done
    case $fault in
        kill-logger)
            victim=$(service_containers event-logger-pg | head -n 1)
            docker kill "$victim" >/dev/null
            log "   docker kill $(container_name "$victim") after $stored of $n events were stored ($(elapsed "$t0")s in)" ;;
        restart-db)
            victim=$(service_containers postgres | head -n 1)
            log "   docker restart $(container_name "$victim") after $stored of $n events were stored ($(elapsed "$t0")s in)"
            docker restart -t 30 "$victim" >/dev/null ;;
    esac
    wait "$poster" || return 1
    log "   posted $n events in $(elapsed "$t0")s"
    [[ $fault == kill-logger ]] && docker start "$victim" >/dev/null
    wait_processed "$WORK/$label.posted" "$label" || return 1
    log "   posted → all processed in $(elapsed "$t0")s"
    pg_check_stored "$label" "$n" || return 1
    check_printed "$WORK/$label.posted" "$label" "$since" 1 || return 1
    wait_healthy queue-broker=1 postgres=1 event-logger-pg=2 notification-processor=2
}
