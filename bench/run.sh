#!/usr/bin/env bash
# bench/run.sh - the whole benchmark suite in one command.
#
#   bench/run.sh                 # full run (about 6-9 minutes on 2 cores), writes docs/benchmarks.md
#   BENCH_QUICK=1 bench/run.sh   # short smoke run, writes build-bench/benchmarks-quick.md
#
# It builds the project (Release, build-release/) and the bench tools
# (build-bench/), starts every service on free 127.0.0.1 ports, measures, and
# stops everything it started (trap on exit).  All load goes to 127.0.0.1.
#
# Knobs (environment):
#   BENCH_QUICK=1             short durations and counts
#   BENCH_DURATION=10         seconds per wrk run
#   BENCH_CONNS="16 64 256"   wrk connection counts
#   BENCH_LAT_DURATION=20     seconds of the constant-rate latency run
#   BENCH_LAT_CONNS=64        connections of the latency run
#   BENCH_E2E_EVENTS=200000   events per end-to-end run
#   BENCH_E2E_PROCS="1 2 4"   processor counts
#   BENCH_E2E_CONNS=64        connections posting in the end-to-end runs
#   BENCH_BATCH_SIZE=100      events per POST /events:batchCreate in the bulk runs
#   BENCH_BATCH_PROCS="2 4"   processor counts of the bulk runs
#   BENCH_BATCH_CONNS=8       connections posting in the bulk runs
#   BENCH_STEADY_RATE=10000   events/s of the steady end-to-end latency run
#   BENCH_STEADY_PROCS=2      processors of that run
#   BENCH_VISIBILITY=300      logger --visibility-timeout in the end-to-end runs
#   BENCH_RSS_EVENTS=1000000  events held for the memory figure
#   BENCH_BROKER_MESSAGES=1000000
#   BENCH_PEER=1              0 skips the FastAPI/Celery peer
#   BENCH_PEER_EVENTS=5000    end-to-end events for the (slow) peer
#   BENCH_PG=1                0 skips the PostgreSQL store
#   BENCH_PG_E2E_PROCS="2 4"  processor counts of the PostgreSQL end-to-end runs
#   BENCH_PG_OPTIONS          server options of its throwaway cluster (see below)
#   BENCH_THREADS=264         CivetWeb worker threads of the ceiling and the logger
#   BENCH_SKIP_BUILD=1        use the binaries already built
#   BENCH_BIN_DIR=build-release/bin
#   BENCH_OUT=docs/benchmarks.md
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

QUICK="${BENCH_QUICK:-0}"
if [[ "$QUICK" == 1 ]]; then
    d_dur=3 d_lat=5 d_e2e=20000 d_rss=100000 d_broker=200000 d_peer=500 d_out=build-bench/benchmarks-quick.md
else
    d_dur=10 d_lat=20 d_e2e=200000 d_rss=1000000 d_broker=1000000 d_peer=5000 d_out=docs/benchmarks.md
fi
DUR="${BENCH_DURATION:-$d_dur}"
CONNS_LIST="${BENCH_CONNS:-16 64 256}"
LAT_DUR="${BENCH_LAT_DURATION:-$d_lat}"
LAT_CONNS="${BENCH_LAT_CONNS:-64}"
E2E_EVENTS="${BENCH_E2E_EVENTS:-$d_e2e}"
E2E_PROCS="${BENCH_E2E_PROCS:-1 2 4}"
E2E_CONNS="${BENCH_E2E_CONNS:-64}"
BATCH_SIZE="${BENCH_BATCH_SIZE:-100}"
BATCH_PROCS="${BENCH_BATCH_PROCS:-2 4}"
BATCH_CONNS="${BENCH_BATCH_CONNS:-8}"
STEADY_RATE="${BENCH_STEADY_RATE:-10000}"
STEADY_PROCS="${BENCH_STEADY_PROCS:-2}"
VISIBILITY="${BENCH_VISIBILITY:-300}"
RSS_EVENTS="${BENCH_RSS_EVENTS:-$d_rss}"
BROKER_MSGS="${BENCH_BROKER_MESSAGES:-$d_broker}"
PEER="${BENCH_PEER:-1}"
PEER_EVENTS="${BENCH_PEER_EVENTS:-$d_peer}"
PG="${BENCH_PG:-1}"
PG_E2E_PROCS="${BENCH_PG_E2E_PROCS:-2 4}"
#   Durable as shipped (fsync, synchronous_commit on); only memory and
#   checkpoint spacing raised, as any production server would have them
PG_OPTIONS="${BENCH_PG_OPTIONS:--c shared_buffers=256MB -c max_wal_size=4GB -c checkpoint_timeout=30min}"
THREADS="${BENCH_THREADS:-264}"
BIN="${BENCH_BIN_DIR:-build-release/bin}"
OUT="${BENCH_OUT:-$d_out}"
PY=/usr/bin/python3

WORK="$(mktemp -d /tmp/enp-bench.XXXXXX)"
SUITE_START=$(date +%s)
PIDS=()
declare -A STOPPED
CMDS=()
PROBLEMS=()
NOTES=()

log() { echo "[bench $(date +%T)] $*" >&2; }
problem() { log "PROBLEM: $*"; PROBLEMS+=("$*"); }
rec() { CMDS+=("$*"); }

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_bg NAME CMD...: runs CMD in the background, stdout to $WORK/NAME.out,
# stderr to $WORK/NAME.err; sets LAST_PID
start_bg() {
    local name="$1"; shift
    rec "$*"
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    echo "$LAST_PID" >"$WORK/$name.pid"
}

# stop_pid PID NAME: SIGTERM, wait up to 10 s, then SIGKILL; notes a non-zero exit
stop_pid() {
    local pid="$1" name="${2:-process}" i rc
    [[ -n "${STOPPED[$pid]:-}" ]] && return 0
    STOPPED[$pid]=1
    if ! kill -0 "$pid" 2>/dev/null; then
        rc=0; wait "$pid" 2>/dev/null || rc=$?
        if [[ "$name" != sink* && "$name" != leftover ]]; then
            problem "$name (pid $pid) had already exited (status $rc) before it was stopped (see $WORK)"
        fi
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        problem "$name (pid $pid) did not exit within 10 s of SIGTERM; killed"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rc=0; wait "$pid" 2>/dev/null || rc=$?
    if [[ "$rc" != 0 && "$name" != wrk* && "$name" != sink* ]]; then
        problem "$name exited with status $rc after SIGTERM (see $WORK)"
    fi
}

cleanup() {
    local pid
    set +e
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" && -z "${STOPPED[$pid]:-}" ]] && stop_pid "$pid" "leftover"
    done
    [[ -d "$WORK/peer" ]] && bench/peer/run_peer.sh stop "$WORK/peer"
    log "work files kept in $WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_http() { # URL SECONDS
    local i
    for i in $(seq 1 $(( $2 * 10 ))); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

wait_port() { # URL SECONDS: any HTTP answer
    local i
    for i in $(seq 1 $(( $2 * 10 ))); do
        curl -sS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

kv() { # KEY LINE -> value
    sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"
}

rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_ticks_sum() { local p t=0; for p in "$@"; do t=$(( t + $(cpu_ticks "$p") )); done; echo "$t"; }
# snap_children (call directly, not in $(...)): records user+system seconds
# of this shell's waited-for children so far; children_cpu prints it
snap_children() { times >"$WORK/times.txt"; }
children_cpu() { tail -1 "$WORK/times.txt" | awk '{ n=split($0,f," "); s=0; for(i=1;i<=n;i++){ split(f[i],a,"m"); s+=a[1]*60+a[2] } printf "%.3f", s }'; }
CLK_TCK=$(getconf CLK_TCK)

fmt() { # printf-ish number formatting that tolerates "n/a"
    local f="$1" v="$2"
    [[ "$v" =~ ^-?[0-9.]+$ ]] && printf "$f" "$v" || printf '%s' "${v:-n/a}"
}
calc() { "$PY" -c "import sys; print($1)" 2>/dev/null || echo "n/a"; }

# busy_pct SECONDS: share of all CPU time spent busy (not idle/iowait) over SECONDS
busy_pct() {
    local a b
    a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
    sleep "$1"
    b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," "); split(b,y," "); t=(y[1]-x[1])+(y[2]-x[2]); printf "%.0f", (t > 0 ? 100*(y[1]-x[1])/t : 0)}'
}
check_quiet() { # WHEN
    local b; b=$(busy_pct 2)
    QUIET_LOG+=("$1: ${b}% busy")
    if (( b > 10 )); then
        problem "the machine was ${b}% busy $1 with none of the suite's processes running: other work competes with the measurements"
    fi
}
QUIET_LOG=()

# --------------------------------------------------------------------- build
BUILD_OK=1
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    log "building bench tools (build-bench)"
    rec "cmake -S bench -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench -j2"
    cmake -S bench -B build-bench -DCMAKE_BUILD_TYPE=Release >"$WORK/build-bench.log" 2>&1
    cmake --build build-bench -j2 >>"$WORK/build-bench.log" 2>&1 || { cat "$WORK/build-bench.log" >&2; exit 1; }
    log "building the project (Release, build-release)"
    rec "cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release && cmake --build build-release -j2"
    if ! { cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >"$WORK/build-release.log" 2>&1 &&
           cmake --build build-release -j2 >>"$WORK/build-release.log" 2>&1; }; then
        log "full Release build failed; trying the three service targets only"
        cmake --build build-release -j2 --target event-logger queue-broker notification-processor \
          >>"$WORK/build-release.log" 2>&1 || true
    fi
fi
for b in event-logger queue-broker notification-processor; do
    if [[ ! -x "$BIN/$b" ]]; then
        BUILD_OK=0
        problem "$BIN/$b is missing (build failed? see $WORK/build-release.log); its figures are skipped"
    fi
done
# run private copies, so a rebuild of the tree during the run cannot pull them away
if [[ "$BUILD_OK" == 1 ]]; then
    mkdir -p "$WORK/bin"
    cp "$BIN/event-logger" "$BIN/queue-broker" "$BIN/notification-processor" "$WORK/bin/"
    ORIG_BIN="$BIN"
    BIN="$WORK/bin"
fi
TOOLS=build-bench
for t in ceiling loadgen broker_bench; do
    [[ -x "$TOOLS/$t" ]] || { log "missing $TOOLS/$t"; exit 1; }
done
WRK_LUA=bench/wrk/post_events.lua

# ------------------------------------------------------------ service helpers
#   Every client here (load generator, processors) comes from 127.0.0.1, so
#   the per-address cap that guards against one attacker would cap the
#   benchmark itself: off, as behind a proxy (see docs/scaling.md)
LOGGER_FLAGS_COMMON=(--host 127.0.0.1 --threads "$THREADS" --log-level warn --max-connections-per-client 0)

# start_broker NAME -> BROKER_PID FRONT BACK
start_broker() {
    local fp bp; fp=$(free_port); bp=$(free_port)
    FRONT="tcp://127.0.0.1:$fp"; BACK="tcp://127.0.0.1:$bp"
    start_bg "$1" "$BIN/queue-broker" --frontend "$FRONT" --backend "$BACK" --metrics-port 0 --log-level warn
    BROKER_PID=$LAST_PID
    sleep 0.3
    kill -0 "$BROKER_PID" 2>/dev/null || { problem "queue-broker did not start (see $WORK/$1.err)"; return 1; }
}

# start_logger NAME EXTRA_FLAGS... -> LOGGER_PID LOGGER_URL
start_logger() {
    local name="$1"; shift
    local p; p=$(free_port)
    LOGGER_URL="http://127.0.0.1:$p"
    start_bg "$name" "$BIN/event-logger" "${LOGGER_FLAGS_COMMON[@]}" --port "$p" --broker "$FRONT" "$@"
    LOGGER_PID=$LAST_PID
    if ! wait_http "$LOGGER_URL/healthz" 15; then
        problem "event-logger did not answer /healthz within 15 s (see $WORK/$name.err)"
        return 1
    fi
    if ! wait_http "$LOGGER_URL/readyz" 10; then
        problem "event-logger /readyz not 200 within 10 s of start with a running broker"
    fi
}

# start_processors N NAME -> PROC_PIDS
start_processors() {
    local n="$1" name="$2" i
    PROC_PIDS=()
    for i in $(seq 1 "$n"); do
        start_bg "$name-$i" "$BIN/notification-processor" --broker "$BACK" --logger-url "$LOGGER_URL" \
          --metrics-port 0 --log-level warn
        PROC_PIDS+=("$LAST_PID")
    done
    sleep 0.5
    for i in "${PROC_PIDS[@]}"; do
        kill -0 "$i" 2>/dev/null || problem "a notification-processor exited at start (see $WORK/$name-*.err)"
    done
}

metric() { # URL NAME -> summed value of the metric lines
    curl -fsS "$1/metrics" 2>/dev/null | awk -v m="$2" '$1==m || index($1, m"{")==1 {s+=$NF} END {printf "%.0f", s+0}'
}

run_wrk() { # NAME CONNS URL -> WRK_LINE
    local name="$1" c="$2" url="$3"
    rec "wrk -t2 -c$c -d${DUR}s -s $WRK_LUA $url"
    timeout $(( DUR + 30 )) wrk -t2 -c"$c" -d"${DUR}s" -s "$WRK_LUA" "$url" >"$WORK/$name.wrk" 2>&1 || true
    WRK_LINE="$(grep '^WRK_RESULT' "$WORK/$name.wrk" || echo 'WRK_RESULT rps=n/a')"
    local errs; errs=$(kv errors "$WRK_LINE")
    if [[ -n "$errs" && "$errs" != 0 ]]; then
        NOTES+=("wrk $name: $errs errors ($(kv status_errors "$WRK_LINE") with status >= 400)")
    fi
}

check_quiet "before the measurements"

# ---------------------------------------------------------------- 1. ceiling
declare -A CEIL CEIL_P99 LOG LOG_P99 LOG_CPU CEIL_CPU PEER_RPS PEER_P99 E2E E2E_CPU BULK BULK_CPU
PEAK=0 BEST_E2E=0 BEST_BULK=0 STEADY_LINE="" LAT_LINE="" BROKER_LINE="" RSS_LINE="" POSTED="" PER_EVENT=n/a BEYOND=n/a BROKER_RSS=n/a
RSS_USER="user-42" RSS_DESC="Your order 1234 has shipped"
RSS_BODY="{\"user_id\":\"$RSS_USER\",\"description\":\"$RSS_DESC\"}"
STRING_BYTES=$(( ${#RSS_USER} + ${#RSS_DESC} ))
log "1. ceiling: bare CivetWeb at ${CONNS_LIST// //} connections, ${DUR}s each"
CP=$(free_port)
start_bg ceiling "$TOOLS/ceiling" "$CP" "$THREADS"
CEIL_PID=$LAST_PID
wait_port "http://127.0.0.1:$CP/" 10 || problem "ceiling did not start"
for c in $CONNS_LIST; do
    t0=$(cpu_ticks "$CEIL_PID")
    run_wrk "ceiling-c$c" "$c" "http://127.0.0.1:$CP"
    t1=$(cpu_ticks "$CEIL_PID")
    CEIL[$c]=$(kv rps "$WRK_LINE"); CEIL_P99[$c]=$(kv p99_ms "$WRK_LINE")
    CEIL_CPU[$c]=$(calc "round(($t1-$t0)/$CLK_TCK*1e6/max(1,$(kv requests "$WRK_LINE")),1)")
    log "   ceiling c=$c: ${CEIL[$c]} req/s"
done
stop_pid "$CEIL_PID" ceiling
CEIL64="${CEIL[64]:-}"
[[ -z "$CEIL64" ]] && CEIL64="$(printf '%s\n' "${CEIL[@]}" | sort -n | tail -1)"

if [[ "$BUILD_OK" == 1 ]]; then
# ------------------------------------------------------- 2. logger create
log "2. event-logger create throughput (broker + discarding sink, no processors)"
for c in $CONNS_LIST; do
    start_broker "broker-create-c$c" || continue
    start_bg "sink-create-c$c" "$TOOLS/broker_bench" sink --backend "$BACK" --seconds $(( DUR + 120 ))
    SINK_PID=$LAST_PID
    if start_logger "logger-create-c$c" --visibility-timeout 3600 --max-events 2000000; then
        t0=$(cpu_ticks "$LOGGER_PID")
        run_wrk "logger-c$c" "$c" "$LOGGER_URL"
        t1=$(cpu_ticks "$LOGGER_PID")
        LOG[$c]=$(kv rps "$WRK_LINE"); LOG_P99[$c]=$(kv p99_ms "$WRK_LINE")
        LOG_CPU[$c]=$(calc "round(($t1-$t0)/$CLK_TCK*1e6/max(1,$(kv requests "$WRK_LINE")),1)")
        created=$(metric "$LOGGER_URL" events_created_total)
        log "   logger c=$c: ${LOG[$c]} req/s (events_created_total=$created)"
        if [[ "${LOG[$c]}" =~ ^[0-9]+$ ]] && (( LOG[$c] > PEAK )); then PEAK=${LOG[$c]}; fi
    fi
    stop_pid "$LOGGER_PID" "event-logger"
    stop_pid "$BROKER_PID" "queue-broker"
    stop_pid "$SINK_PID" sink
done

# ------------------------------------------------------- 3. create latency
LAT_LINE=""
if (( PEAK > 0 )); then
    HALF=$(( PEAK / 2 ))
    log "3. create latency at half the peak: $HALF req/s over $LAT_CONNS conns for ${LAT_DUR}s"
    start_broker broker-lat || true
    start_bg sink-lat "$TOOLS/broker_bench" sink --backend "$BACK" --seconds $(( LAT_DUR + 120 ))
    SINK_PID=$LAST_PID
    if start_logger logger-lat --visibility-timeout 3600 --max-events 2000000; then
        rec "$TOOLS/loadgen rate --url $LOGGER_URL --rate $HALF --conns $LAT_CONNS --duration $LAT_DUR --warmup 2 --timeline"
        timeout $(( LAT_DUR + 60 )) "$TOOLS/loadgen" rate --url "$LOGGER_URL" --rate "$HALF" --conns "$LAT_CONNS" \
          --duration "$LAT_DUR" --warmup 2 --timeline >"$WORK/latency.txt" 2>&1 || true
        LAT_LINE="$(grep '^RESULT' "$WORK/latency.txt" || true)"
        log "   $(grep 'latency from' "$WORK/latency.txt" || echo 'no result')"
    fi
    stop_pid "$LOGGER_PID" "event-logger"; stop_pid "$BROKER_PID" "queue-broker"; stop_pid "$SINK_PID" sink
fi

# ------------------------------------------------------- 4. end to end
# e2e_run NAME N LOADGEN_BURST_ARGS... : a fresh broker, logger (with the
# extra flags in E2E_LOGGER_FLAGS) and N processors, one `loadgen burst` ->
# RUN_LINE (its RESULT line with the notification lines and logger counters
# appended) and RUN_CPU (µs per event of logger / broker / processors /
# loadgen); 0 if it ran
E2E_LOGGER_FLAGS=()
e2e_run() {
    local name="$1" n="$2"; shift 2
    local events="$E2E_EVENTS" arg prev=""
    for arg in "$@"; do [[ "$prev" == --events ]] && events="$arg"; prev="$arg"; done
    RUN_LINE="" RUN_CPU=n/a
    start_broker "broker-$name" || return 1
    if start_logger "logger-$name" --visibility-timeout "$VISIBILITY" --max-events 2000000 \
         ${E2E_LOGGER_FLAGS[@]+"${E2E_LOGGER_FLAGS[@]}"}; then
        start_processors "$n" "proc-$name"
        cl0=$(cpu_ticks "$LOGGER_PID"); cb0=$(cpu_ticks "$BROKER_PID"); cp0=$(cpu_ticks_sum "${PROC_PIDS[@]}"); snap_children; cg0=$(children_cpu)
        rec "$TOOLS/loadgen burst --url $LOGGER_URL $*"
        timeout 330 "$TOOLS/loadgen" burst --url "$LOGGER_URL" "$@" >"$WORK/$name.txt" 2>&1 || true
        line="$(grep '^RESULT' "$WORK/$name.txt" || echo 'RESULT e2e_rate=n/a')"
        cl1=$(cpu_ticks "$LOGGER_PID"); cb1=$(cpu_ticks "$BROKER_PID"); cp1=$(cpu_ticks_sum "${PROC_PIDS[@]}"); snap_children; cg1=$(children_cpu)
        ndone=$(kv processed "$line"); ndone=${ndone:-0}
        if (( ndone > 0 )); then
            RUN_CPU="$(calc "round(($cl1-$cl0)/$CLK_TCK*1e6/$ndone,1)") / $(calc "round(($cb1-$cb0)/$CLK_TCK*1e6/$ndone,1)") / $(calc "round(($cp1-$cp0)/$CLK_TCK*1e6/$ndone,1)") / $(calc "round(($cg1-$cg0)*1e6/$ndone,1)")"
        fi
        redeliv=$(metric "$LOGGER_URL" events_redelivered_total)
        failed=$(metric "$LOGGER_URL" events_failed_total)
        for p in "${PROC_PIDS[@]}"; do stop_pid "$p" "notification-processor"; done
        lines=$(cat "$WORK"/proc-"$name"-*.out 2>/dev/null | grep -c '^Event ' || true)
        RUN_LINE="$line lines=$lines redelivered=$redeliv failed_metric=$failed"
        log "   $(grep -E '^(burst|  processed|  create)' "$WORK/$name.txt" | tr -s ' \n' ' ')"
        log "   processor stdout lines: $lines; events_redelivered_total=$redeliv"
        if [[ "$lines" =~ ^[0-9]+$ ]] && (( lines < ndone )); then
            problem "$name: only $lines notification lines for $ndone processed events"
        fi
        if [[ "$ndone" != "$events" ]]; then
            problem "$name: $ndone of $events events processed before the timeout"
        fi
    fi
    stop_pid "$LOGGER_PID" "event-logger"; stop_pid "$BROKER_PID" "queue-broker"
    [[ -n "$RUN_LINE" ]]
}

for n in $E2E_PROCS; do
    log "4. end to end: $E2E_EVENTS events with $n processor(s)"
    e2e_run "e2e-$n" "$n" --events "$E2E_EVENTS" --conns "$E2E_CONNS" --timeout 300 || continue
    E2E[$n]="$RUN_LINE"; E2E_CPU[$n]="$RUN_CPU"
    r=$(kv e2e_rate "$RUN_LINE")
    if [[ "$r" =~ ^[0-9]+$ ]] && (( r > BEST_E2E )); then BEST_E2E=$r; BEST_E2E_N=$n; fi
done

# ------------------------------------------------------- 4a. bulk creates
# The same, each POST a POST /events:batchCreate of BATCH_SIZE events
for n in $BATCH_PROCS; do
    log "4a. end to end with :batchCreate of $BATCH_SIZE: $E2E_EVENTS events with $n processor(s)"
    e2e_run "bulk-$n" "$n" --events "$E2E_EVENTS" --conns "$BATCH_CONNS" --batch "$BATCH_SIZE" \
      --timeout 300 || continue
    BULK[$n]="$RUN_LINE"; BULK_CPU[$n]="$RUN_CPU"
    r=$(kv e2e_rate "$RUN_LINE")
    if [[ "$r" =~ ^[0-9]+$ ]] && (( r > BEST_BULK )); then BEST_BULK=$r; BEST_BULK_N=$n; fi
done

# ------------------------------------------------------- 4c. steady end to end
# Not a burst: events posted on a schedule of STEADY_RATE a second, so the
# create->processed latency is one event's trip, not time queued behind others
log "4c. end to end at a steady $STEADY_RATE events/s for ${LAT_DUR}s with $STEADY_PROCS processor(s)"
if e2e_run steady "$STEADY_PROCS" --events $(( STEADY_RATE * LAT_DUR )) --pace "$STEADY_RATE" \
     --conns "$LAT_CONNS" --timeout $(( LAT_DUR + 120 )); then
    STEADY_LINE="$RUN_LINE"
fi

# ------------------------------------------------------- 4b. PostgreSQL store
# The same create, latency and end-to-end runs with --store postgresql://...,
# against a throwaway cluster on this machine (scripts/pg-scratch.sh, Unix
# socket), each run on a fresh database; then bytes on disk per event.
declare -A PGC PGC_P99 PGC_CPU PGC_DB_CPU PG_E2E PG_E2E_CPU
PG_PEAK=0 PG_BEST_E2E=0 PG_LAT_LINE="" PG_HALF="" PG_DISK_LINE="" PG_DIR="" PG_URL=""
PG_RUN=0
pg_database() { # -> PG_DB_URL: a new empty database of the cluster
    PG_RUN=$(( PG_RUN + 1 ))
    local name="bench_$PG_RUN"
    psql "$PG_URL" -q -c "CREATE DATABASE $name" >/dev/null
    PG_DB_URL="${PG_URL/\/postgres?//$name?}"
}
pg_server_ticks() { # CPU ticks of the cluster's processes
    local main; main=$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null || echo 0)
    cpu_ticks_sum "$main" $(pgrep -P "$main" 2>/dev/null)
}
if [[ "$PG" == 1 && "$BUILD_OK" == 1 ]]; then
    #   Not inside $WORK: the server runs as the user postgres, which must
    #   reach its folder
    PG_DIR="$(mktemp -d /tmp/enp-bench-pg.XXXXXX)"
    rec "PG_SCRATCH_OPTIONS='$PG_OPTIONS' scripts/pg-scratch.sh start <dir>"
    if PG_URL=$(PG_SCRATCH_OPTIONS="$PG_OPTIONS" scripts/pg-scratch.sh start "$PG_DIR" 2>"$WORK/pg-start.err"); then
        log "4b. PostgreSQL store: create throughput at ${CONNS_LIST// //} connections"
        for c in $CONNS_LIST; do
            pg_database
            start_broker "broker-pg-c$c" || continue
            start_bg "sink-pg-c$c" "$TOOLS/broker_bench" sink --backend "$BACK" --seconds $(( DUR + 120 ))
            SINK_PID=$LAST_PID
            if start_logger "logger-pg-c$c" --visibility-timeout 3600 --store "$PG_DB_URL"; then
                t0=$(cpu_ticks "$LOGGER_PID"); d0=$(pg_server_ticks)
                run_wrk "logger-pg-c$c" "$c" "$LOGGER_URL"
                t1=$(cpu_ticks "$LOGGER_PID"); d1=$(pg_server_ticks)
                PGC[$c]=$(kv rps "$WRK_LINE"); PGC_P99[$c]=$(kv p99_ms "$WRK_LINE")
                PGC_CPU[$c]=$(calc "round(($t1-$t0)/$CLK_TCK*1e6/max(1,$(kv requests "$WRK_LINE")),1)")
                PGC_DB_CPU[$c]=$(calc "round(($d1-$d0)/$CLK_TCK*1e6/max(1,$(kv requests "$WRK_LINE")),1)")
                log "   PostgreSQL store c=$c: ${PGC[$c]} req/s (events_created_total=$(metric "$LOGGER_URL" events_created_total))"
                if [[ "${PGC[$c]}" =~ ^[0-9]+$ ]] && (( PGC[$c] > PG_PEAK )); then PG_PEAK=${PGC[$c]}; fi
            fi
            stop_pid "$LOGGER_PID" "event-logger"; stop_pid "$BROKER_PID" "queue-broker"; stop_pid "$SINK_PID" sink
        done
        if (( PG_PEAK > 0 )); then
            PG_HALF=$(( PG_PEAK / 2 ))
            log "4b. PostgreSQL store: create latency at half its peak, $PG_HALF req/s"
            pg_database
            start_broker broker-pg-lat || true
            start_bg sink-pg-lat "$TOOLS/broker_bench" sink --backend "$BACK" --seconds $(( LAT_DUR + 120 ))
            SINK_PID=$LAST_PID
            if start_logger logger-pg-lat --visibility-timeout 3600 --store "$PG_DB_URL"; then
                rec "$TOOLS/loadgen rate --url $LOGGER_URL --rate $PG_HALF --conns $LAT_CONNS --duration $LAT_DUR --warmup 2"
                timeout $(( LAT_DUR + 60 )) "$TOOLS/loadgen" rate --url "$LOGGER_URL" --rate "$PG_HALF" --conns "$LAT_CONNS" \
                    --duration "$LAT_DUR" --warmup 2 >"$WORK/pg-latency.txt" 2>&1 || true
                PG_LAT_LINE="$(grep '^RESULT' "$WORK/pg-latency.txt" || true)"
                log "   $(grep 'latency from' "$WORK/pg-latency.txt" || echo 'no result')"
            fi
            stop_pid "$LOGGER_PID" "event-logger"; stop_pid "$BROKER_PID" "queue-broker"; stop_pid "$SINK_PID" sink
        fi
        for n in $PG_E2E_PROCS; do
            log "4b. PostgreSQL store end to end: $E2E_EVENTS events with $n processor(s)"
            pg_database
            E2E_LOGGER_FLAGS=(--store "$PG_DB_URL")
            d0=$(pg_server_ticks)
            ran=0
            e2e_run "pg-e2e-$n" "$n" --events "$E2E_EVENTS" --conns "$E2E_CONNS" --timeout 300 || ran=$?
            d1=$(pg_server_ticks)
            E2E_LOGGER_FLAGS=()
            (( ran == 0 )) || continue
            PG_E2E[$n]="$RUN_LINE"
            ndone=$(kv processed "$RUN_LINE"); ndone=${ndone:-0}
            if (( ndone > 0 )); then
                PG_E2E_CPU[$n]="${RUN_CPU%% /*} / $(calc "round(($d1-$d0)/$CLK_TCK*1e6/$ndone,1)")"
            fi
            r=$(kv e2e_rate "$RUN_LINE")
            if [[ "$r" =~ ^[0-9]+$ ]] && (( r > PG_BEST_E2E )); then PG_BEST_E2E=$r; fi
            #   Bytes on disk per event: the table with its indexes and TOAST
            #   (VACUUM first, so dead row versions of the status updates
            #   that a long run reclaims do not count)
            psql "$PG_DB_URL" -q -c "VACUUM events" >/dev/null 2>&1 || true
            PG_DISK_LINE="$(psql "$PG_DB_URL" -tA -F ' ' -c "SELECT count (*), pg_relation_size ('events'), pg_indexes_size ('events'), pg_total_relation_size ('events') FROM events" 2>/dev/null || true)"
        done
    else
        problem "the PostgreSQL cluster did not start: $(cat "$WORK/pg-start.err")"
    fi
    scripts/pg-scratch.sh stop "$PG_DIR" || true
fi

# ------------------------------------------------------- 5. memory per event
log "5. logger memory: $RSS_EVENTS events held (broker, no processors)"
if start_broker broker-rss && start_logger logger-rss --visibility-timeout 3600 --max-events $(( RSS_EVENTS + RSS_EVENTS / 10 + 20000 )); then
    # warm up: threads, connections, first allocations
    timeout 60 "$TOOLS/loadgen" burst --url "$LOGGER_URL" --events 10000 --conns 64 --post-only \
      --body "$RSS_BODY" --timeout 50 >"$WORK/rss-warm.txt" 2>&1 || true
    sleep 1
    RSS0=$(rss_kb "$LOGGER_PID")
    rec "$TOOLS/loadgen burst --url $LOGGER_URL --events $RSS_EVENTS --conns 64 --post-only --body '$RSS_BODY'"
    timeout 300 "$TOOLS/loadgen" burst --url "$LOGGER_URL" --events "$RSS_EVENTS" --conns 64 --post-only \
      --body "$RSS_BODY" --timeout 280 >"$WORK/rss.txt" 2>&1 || true
    sleep 2
    RSS1=$(rss_kb "$LOGGER_PID")
    POSTED=$(kv posted "$(grep '^RESULT' "$WORK/rss.txt" || echo x)")
    POSTED=${POSTED:-0}
    if (( POSTED > 0 )); then
        PER_EVENT=$(calc "round(($RSS1-$RSS0)*1024/$POSTED,1)")
        BEYOND=$(calc "round(($RSS1-$RSS0)*1024/$POSTED - $STRING_BYTES,1)")
    else
        PER_EVENT=n/a; BEYOND=n/a
    fi
    RSS_LINE="before=${RSS0} after=${RSS1} posted=$POSTED"
    BROKER_RSS=$(rss_kb "$BROKER_PID")
    log "   RSS $RSS0 kB -> $RSS1 kB for $POSTED events: $PER_EVENT B/event, $BEYOND beyond $STRING_BYTES string bytes"
    [[ "$POSTED" == "$RSS_EVENTS" ]] || problem "memory run: only $POSTED of $RSS_EVENTS events accepted"
fi
stop_pid "$LOGGER_PID" "event-logger"; stop_pid "$BROKER_PID" "queue-broker"

# ------------------------------------------------------- 6. broker alone
log "6. queue-broker alone: $BROKER_MSGS messages PUSH -> broker -> PULL"
if start_broker broker-alone; then
    rec "$TOOLS/broker_bench through --frontend $FRONT --backend $BACK --messages $BROKER_MSGS"
    timeout 150 "$TOOLS/broker_bench" through --frontend "$FRONT" --backend "$BACK" --messages "$BROKER_MSGS" \
      --timeout 120 >"$WORK/broker.txt" 2>&1 || true
    BROKER_LINE="$(grep '^RESULT' "$WORK/broker.txt" || echo 'RESULT rate=n/a')"
    stop_pid "$BROKER_PID" "queue-broker"
    log "   $(head -1 "$WORK/broker.txt")"
fi
fi # BUILD_OK

rec "$TOOLS/broker_bench self --messages $BROKER_MSGS"
timeout 150 "$TOOLS/broker_bench" self --messages "$BROKER_MSGS" >"$WORK/broker-self.txt" 2>&1 || true
SELF_LINE="$(grep '^RESULT' "$WORK/broker-self.txt" || echo 'RESULT rate=n/a')"

# ------------------------------------------------------- 7. the peer
PEER_E2E_LINE=""
if [[ "$PEER" == 1 ]]; then
    log "7. peer (FastAPI + uvicorn + Celery/Redis): create throughput and end to end ($PEER_EVENTS events)"
    for c in $CONNS_LIST; do
        PP=$(free_port)
        rec "PEER_WORKER=0 bench/peer/run_peer.sh start $PP"
        if PEER_WORKER=0 bench/peer/run_peer.sh start "$PP" "$WORK/peer" >"$WORK/peer-start.txt" 2>&1; then
            run_wrk "peer-c$c" "$c" "http://127.0.0.1:$PP"
            PEER_RPS[$c]=$(kv rps "$WRK_LINE"); PEER_P99[$c]=$(kv p99_ms "$WRK_LINE")
            log "   peer c=$c: ${PEER_RPS[$c]} req/s"
        else
            problem "the peer did not start: $(cat "$WORK/peer-start.txt")"
        fi
        bench/peer/run_peer.sh stop "$WORK/peer"
    done
    PP=$(free_port)
    rec "bench/peer/run_peer.sh start $PP"
    if bench/peer/run_peer.sh start "$PP" "$WORK/peer" >"$WORK/peer-start.txt" 2>&1; then
        rec "$TOOLS/loadgen burst --url http://127.0.0.1:$PP --events $PEER_EVENTS --conns $E2E_CONNS --timeout 240"
        timeout 270 "$TOOLS/loadgen" burst --url "http://127.0.0.1:$PP" --events "$PEER_EVENTS" --conns "$E2E_CONNS" \
          --timeout 240 >"$WORK/peer-e2e.txt" 2>&1 || true
        PEER_E2E_LINE="$(grep '^RESULT' "$WORK/peer-e2e.txt" || true)"
        log "   $(grep -E '^  processed' "$WORK/peer-e2e.txt" || echo 'no result')"
    else
        problem "the peer did not start: $(cat "$WORK/peer-start.txt")"
    fi
    bench/peer/run_peer.sh stop "$WORK/peer"
fi

# ------------------------------------------------------- report
check_quiet "after the measurements"
SUITE_SECS=$(( $(date +%s) - SUITE_START ))
log "writing $OUT (suite took ${SUITE_SECS}s)"

verdict() { # VALUE OP TARGET
    [[ "$1" =~ ^[0-9.]+$ ]] || { echo "not measured"; return; }
    if "$PY" -c "import sys; sys.exit(0 if $1 $2 $3 else 1)"; then echo "yes"; else echo "**no**"; fi
}

CPU_MODEL="$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
MEM_TOTAL="$(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
HEAD_REF="unknown"
if [[ -f .git/HEAD ]]; then
    ref="$(cat .git/HEAD)"
    if [[ "$ref" == ref:* ]]; then
        ref="${ref#ref: }"
        HEAD_REF="$(cat ".git/$ref" 2>/dev/null || awk -v r="$ref" '$2==r{print $1}' .git/packed-refs 2>/dev/null || echo unknown)"
    else
        HEAD_REF="$ref"
    fi
fi
pkgv() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }

C64_RATIO=$(calc "round(100.0*${LOG[64]:-0}/$CEIL64,1)" )
[[ -n "${LOG[64]:-}" ]] || C64_RATIO=n/a
E2E_RATIO=$(calc "round(100.0*$BEST_E2E/$CEIL64,1)")
(( BEST_E2E > 0 )) || E2E_RATIO=n/a
LAT_P99=$(kv p99_ms "$LAT_LINE")
PEER_E2E=$(kv e2e_rate "$PEER_E2E_LINE")
BULK_RATIO=$(calc "round(100.0*$BEST_BULK/$CEIL64,1)")
(( BEST_BULK > 0 )) || BULK_RATIO=n/a
#   The peer is compared with the faster of the two ways to post
BEST_ANY=$BEST_E2E BEST_ANY_HOW="single creates"
if (( BEST_BULK > BEST_E2E )); then BEST_ANY=$BEST_BULK BEST_ANY_HOW=":batchCreate of $BATCH_SIZE"; fi
PEER_X=$( [[ "$PEER_E2E" =~ ^[0-9]+$ ]] && (( PEER_E2E > 0 )) && calc "round($BEST_ANY/$PEER_E2E,1)" || echo n/a)
STEADY_P99=$(kv lat_p99_ms "$STEADY_LINE")
PG_RATIO=$(calc "round(100.0*${PGC[64]:-0}/${LOG[64]:-1},1)")
[[ -n "${PGC[64]:-}" && -n "${LOG[64]:-}" ]] || PG_RATIO=n/a
PG_PEER_X=$( [[ "$PEER_E2E" =~ ^[0-9]+$ ]] && (( PEER_E2E > 0 && PG_BEST_E2E > 0 )) && calc "round($PG_BEST_E2E/$PEER_E2E,1)" || echo n/a)
[[ "$BUILD_OK" == 1 ]] || { C64_RATIO=n/a; E2E_RATIO=n/a; PER_EVENT=n/a; BEYOND=n/a; PG_RATIO=n/a; PG_PEER_X=n/a; }

mkdir -p "$(dirname "$OUT")"
# keep a section other tools maintain in the same file (bench/soak.sh --write)
SOAK_SECTION=""
if [[ -f "$OUT" ]] && grep -q '<!-- soak:begin -->' "$OUT"; then
    SOAK_SECTION="$(sed -n '/<!-- soak:begin -->/,/<!-- soak:end -->/p' "$OUT")"
fi
{
    echo "# Benchmarks"
    echo
    if [[ "$QUICK" == 1 ]]; then
        echo "> **Quick smoke run** (BENCH_QUICK=1): short durations and small counts; the figures are indicative only."
        echo
    fi
    echo "Generated by \`bench/run.sh\` — do not edit by hand; run it again instead."
    echo
    echo "## Machine"
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| date (UTC) | $(date -u '+%Y-%m-%d %H:%M') |"
    echo "| CPU | $CPU_MODEL |"
    echo "| cores (nproc) | $(nproc) |"
    echo "| memory | $MEM_TOTAL |"
    echo "| kernel | $(uname -sr) |"
    echo "| OS | $(. /etc/os-release; echo "$PRETTY_NAME") |"
    echo "| commit | \`${HEAD_REF:0:12}\` (work tree may differ) |"
    echo "| libraries | CivetWeb $(pkgv libcivetweb1), libzmq $(pkgv libzmq5), czmq $(pkgv libczmq4), libcurl $(pkgv libcurl4), jansson $(pkgv libjansson4) |"
    echo "| tools | $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), gcc $(gcc -dumpfullversion), Python $($PY -c 'import platform; print(platform.python_version())') (peer: FastAPI $($PY -c 'import fastapi; print(fastapi.__version__)' 2>/dev/null), uvicorn $($PY -c 'import uvicorn; print(uvicorn.__version__)' 2>/dev/null), Celery $($PY -c 'import celery; print(celery.__version__)' 2>/dev/null), Redis $(pkgv redis-server)) |"
    echo "| suite wall time | ${SUITE_SECS} s |"
    echo "| background load (2 s samples, nothing of the suite running) | $(printf '%s; ' "${QUIET_LOG[@]}" | sed 's/; $//') |"
    echo
    echo "Everything runs on this one machine over 127.0.0.1: the load generator competes with the"
    echo "services for the same $(nproc) cores, so every figure is a whole-machine figure."
    echo
    echo "## Targets"
    echo
    echo "| target | measured | goal | met |"
    echo "| --- | --- | --- | --- |"
    echo "| create throughput at 64 connections, share of the CivetWeb ceiling | $(fmt '%s' "${LOG[64]:-n/a}") req/s = $(fmt '%s' "$C64_RATIO") % of $(fmt '%s' "$CEIL64") | ≥ 60 % | $(verdict "$C64_RATIO" '>=' 60) |"
    echo "| end to end, single creates (best of ${E2E_PROCS// /\/} processors), share of the ceiling at 64 | $(fmt '%s' "$BEST_E2E") events/s = $(fmt '%s' "$E2E_RATIO") % | ≥ 45 % | $(verdict "$E2E_RATIO" '>=' 45) |"
    echo "| end to end, \`:batchCreate\` of $BATCH_SIZE (best of ${BATCH_PROCS// /\/} processors), events/s as a share of the ceiling's req/s at 64 | $(fmt '%s' "$BEST_BULK") events/s = $(fmt '%s' "$BULK_RATIO") % | ≥ 150 % | $(verdict "$BULK_RATIO" '>=' 150) |"
    echo "| end to end at a steady $STEADY_RATE events/s, create→processed p99 | $(fmt '%s' "${STEADY_P99:-n/a}") ms | ≤ 5 ms | $(verdict "${STEADY_P99:-x}" '<=' 5) |"
    echo "| create p99 latency at half the peak (${HALF:-n/a} req/s) | $(fmt '%s' "${LAT_P99:-n/a}") ms | < 2 ms | $(verdict "${LAT_P99:-x}" '<' 2) |"
    echo "| logger memory per held event beyond its strings | $(fmt '%s' "${BEYOND:-n/a}") bytes | ≤ 400 bytes | $(verdict "${BEYOND:-x}" '<=' 400) |"
    echo "| end to end vs the FastAPI/Celery peer ($BEST_ANY_HOW) | $(fmt '%s' "$PEER_X")× ($(fmt '%s' "$BEST_ANY") vs $(fmt '%s' "${PEER_E2E:-n/a}") events/s) | ≥ 100× | $(verdict "${PEER_X}" '>=' 100) |"
    echo "| PostgreSQL store: create throughput at 64 connections, share of the memory store's | $(fmt '%s' "${PGC[64]:-n/a}") vs $(fmt '%s' "${LOG[64]:-n/a}") req/s = $(fmt '%s' "$PG_RATIO") % | ≥ 35 % | $(verdict "$PG_RATIO" '>=' 35) |"
    echo "| PostgreSQL store: end to end vs the FastAPI/Celery peer | $(fmt '%s' "$PG_PEER_X")× ($(fmt '%s' "$PG_BEST_E2E") vs $(fmt '%s' "${PEER_E2E:-n/a}") events/s) | ≥ 20× | $(verdict "${PG_PEER_X}" '>=' 20) |"
    echo
    echo "## Create throughput (POST /events, wrk, ${DUR} s per run)"
    echo
    echo "The ceiling is a bare CivetWeb server (\`bench/ceiling/ceiling.c\`) answering POST /events with a"
    echo "fixed 201 body, same \`num_threads\` ($THREADS), \`tcp_nodelay=1\`, one \`mg_write\` per response. The"
    echo "logger runs with a queue-broker and a discarding sink on the broker's backend (no processors, so"
    echo "no status reports compete), \`--visibility-timeout 3600\`, \`--threads $THREADS\`, \`--log-level warn\`,"
    echo "\`--max-connections-per-client 0\` (every client of the suite shares 127.0.0.1)."
    echo "CPU µs/req is the server's own user+system CPU time divided by the requests served."
    echo
    echo "| connections | ceiling req/s | ceiling p99 ms | ceiling CPU µs/req | logger req/s | logger p99 ms | logger CPU µs/req | logger / ceiling | peer req/s | peer p99 ms |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for c in $CONNS_LIST; do
        ratio=$(calc "round(100.0*${LOG[$c]:-0}/${CEIL[$c]:-1},1)")
        [[ -n "${LOG[$c]:-}" ]] || ratio=n/a
        echo "| $c | ${CEIL[$c]:-n/a} | ${CEIL_P99[$c]:-n/a} | ${CEIL_CPU[$c]:-n/a} | ${LOG[$c]:-n/a} | ${LOG_P99[$c]:-n/a} | ${LOG_CPU[$c]:-n/a} | ${ratio} % | ${PEER_RPS[$c]:-n/a} | ${PEER_P99[$c]:-n/a} |"
    done
    echo
    echo "## Create latency at a constant rate"
    echo
    echo "\`loadgen rate\`: ${HALF:-n/a} req/s offered (half the logger's peak of ${PEAK:-n/a} req/s) over $LAT_CONNS"
    echo "keep-alive connections for $LAT_DUR s (first 2 s discarded), latency measured from each request's"
    echo "*scheduled* send time, so a stall counts for every request it delays (coordinated omission corrected)."
    echo
    echo "| offered req/s | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    STALLS="$(awk '/timeline/{t=1; next} t && NF==4 && $3+0 > 10 {printf "%s%d s: %.0f ms (%d requests over 10 ms)", sep, $1, $3, $4; sep="; "}' "$WORK/latency.txt" 2>/dev/null || true)"
    echo "| $(kv offered "$LAT_LINE") | $(kv achieved "$LAT_LINE") | $(kv p50_ms "$LAT_LINE") | $(kv p90_ms "$LAT_LINE") | $(kv p99_ms "$LAT_LINE") | $(kv p999_ms "$LAT_LINE") | $(kv max_ms "$LAT_LINE") | $(kv errors "$LAT_LINE")/$(kv non2xx "$LAT_LINE") non-2xx |"
    echo
    if [[ -n "${STALLS:-}" ]]; then
        echo "Seconds of the run (from its start, as scheduled) whose worst request took over 10 ms — at"
        echo "${HALF:-?} req/s the logger holds about ${HALF:-?} × t events at second t: ${STALLS}."
        echo
    fi
    echo "## End to end"
    echo
    echo "\`loadgen burst\`: $E2E_EVENTS events posted as fast as accepted over $E2E_CONNS connections into"
    echo "logger → broker → N processors → status reports back (\`POST /events:batchUpdateStatus\`, batched by default); total time is from the first POST to the last"
    echo "\`updated_at\`; latency is \`updated_at - created_at\` of every event (read back with"
    echo "\`GET /events?status=processed&limit=1000&after=...\`). Logger \`--visibility-timeout $VISIBILITY\` so a"
    echo "queue that is long for a moment is not re-sent; processors print to a file. In a burst the"
    echo "latency is mostly time spent queued behind earlier events, so it measures the backlog, not one"
    echo "event's path."
    echo
    echo "| system | processors | events | posting events/s | total s | end-to-end events/s | latency p50 ms | p99 ms | p99.9 ms | max ms | redelivered | notification lines |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for n in $E2E_PROCS; do
        l="${E2E[$n]:-}"
        echo "| C | $n | $(kv processed "$l")/$(kv events "$l") | $(kv post_rate "$l") | $(kv e2e_s "$l") | $(kv e2e_rate "$l") | $(kv lat_p50_ms "$l") | $(kv lat_p99_ms "$l") | $(kv lat_p999_ms "$l") | $(kv lat_max_ms "$l") | $(kv redelivered "$l") | $(kv lines "$l") |"
    done
    for n in $BATCH_PROCS; do
        l="${BULK[$n]:-}"
        echo "| C, \`:batchCreate\` ×$BATCH_SIZE | $n | $(kv processed "$l")/$(kv events "$l") | $(kv post_rate "$l") | $(kv e2e_s "$l") | $(kv e2e_rate "$l") | $(kv lat_p50_ms "$l") | $(kv lat_p99_ms "$l") | $(kv lat_p999_ms "$l") | $(kv lat_max_ms "$l") | $(kv redelivered "$l") | $(kv lines "$l") |"
    done
    if [[ -n "$PEER_E2E_LINE" ]]; then
        l="$PEER_E2E_LINE"
        echo "| peer | Celery ×${PEER_CONCURRENCY:-$(nproc)} | $(kv processed "$l")/$(kv events "$l") | $(kv post_rate "$l") | $(kv e2e_s "$l") | $(kv e2e_rate "$l") | $(kv lat_p50_ms "$l") | $(kv lat_p99_ms "$l") | $(kv lat_p999_ms "$l") | $(kv lat_max_ms "$l") | – | – |"
    fi
    echo
    if [[ "${PEER_E2E:-}" =~ ^[0-9]+$ ]] && (( PEER_E2E > 0 )); then
        echo "CPU time per event during the C runs (user + system, µs; the logger's share includes serving the"
    echo "read-back pages, and the load generator's includes reading them):"
    echo
    echo "| processors | logger / broker / processors (all) / loadgen µs per event |"
    echo "| --- | --- |"
    for n in $E2E_PROCS; do echo "| $n | ${E2E_CPU[$n]:-n/a} |"; done
    for n in $BATCH_PROCS; do echo "| $n, \`:batchCreate\` ×$BATCH_SIZE | ${BULK_CPU[$n]:-n/a} |"; done
    echo
    echo "The peer gets only $PEER_EVENTS events because it is slow: at its rate $E2E_EVENTS would take"
        echo "about $(( E2E_EVENTS / PEER_E2E )) s. Its events/s is a rate, so the ratio is like for like; its total time is not."
    fi
    echo
    echo "## End to end at a steady rate"
    echo
    echo "\`loadgen burst --pace $STEADY_RATE\`: $(( STEADY_RATE * LAT_DUR )) events posted on a schedule of $STEADY_RATE a second"
    echo "over $LAT_CONNS connections (not as fast as accepted), $STEADY_PROCS processor(s), then read back."
    echo "Latency is \`updated_at - created_at\` of every event: the logger's own clock at the create and"
    echo "at the processor's report, in whole milliseconds (so ±1 ms)."
    echo
    echo "| events | processed | p50 ms | p99 ms | p99.9 ms | max ms | redelivered | notification lines |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    l="$STEADY_LINE"
    echo "| $(kv events "$l") | $(kv processed "$l") | $(kv lat_p50_ms "$l") | $(kv lat_p99_ms "$l") | $(kv lat_p999_ms "$l") | $(kv lat_max_ms "$l") | $(kv redelivered "$l") | $(kv lines "$l") |"
    echo
    if [[ "$PG" == 1 ]]; then
    echo "## PostgreSQL store"
    echo
    echo "The same runs with \`--store postgresql://...\` (default \`--store-connections 4\`): a throwaway"
    echo "PostgreSQL $(pkgv postgresql-15) cluster on this machine (\`scripts/pg-scratch.sh\`, Unix socket), durable as"
    echo "shipped — \`fsync\` and \`synchronous_commit\` on, so a \`201\` means the row's WAL is flushed —"
    echo "with \`$PG_OPTIONS\`; a fresh database per run. It shares the $(nproc) cores with"
    echo "everything else, so its CPU is part of every figure. postgres CPU is the cluster's processes'"
    echo "user+system time per request."
    echo
    echo "| connections | memory store req/s | PostgreSQL store req/s | share | p99 ms | logger CPU µs/req | postgres CPU µs/req |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for c in $CONNS_LIST; do
        ratio=$(calc "round(100.0*${PGC[$c]:-0}/${LOG[$c]:-1},1)")
        [[ -n "${PGC[$c]:-}" && -n "${LOG[$c]:-}" ]] || ratio=n/a
        echo "| $c | ${LOG[$c]:-n/a} | ${PGC[$c]:-n/a} | ${ratio} % | ${PGC_P99[$c]:-n/a} | ${PGC_CPU[$c]:-n/a} | ${PGC_DB_CPU[$c]:-n/a} |"
    done
    echo
    echo "Create latency at a constant ${PG_HALF:-n/a} req/s (half the PostgreSQL store's peak of ${PG_PEAK:-n/a}), $LAT_CONNS"
    echo "connections, $LAT_DUR s, from the scheduled send time:"
    echo
    echo "| offered req/s | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    echo "| $(kv offered "$PG_LAT_LINE") | $(kv achieved "$PG_LAT_LINE") | $(kv p50_ms "$PG_LAT_LINE") | $(kv p90_ms "$PG_LAT_LINE") | $(kv p99_ms "$PG_LAT_LINE") | $(kv p999_ms "$PG_LAT_LINE") | $(kv max_ms "$PG_LAT_LINE") | $(kv errors "$PG_LAT_LINE")/$(kv non2xx "$PG_LAT_LINE") non-2xx |"
    echo
    echo "End to end, as above (\`loadgen burst\`, $E2E_EVENTS events, $E2E_CONNS connections), every status"
    echo "report a durable \`UPDATE\` too:"
    echo
    echo "| processors | events | posting events/s | total s | end-to-end events/s | latency p50 ms | p99 ms | redelivered | logger / postgres CPU µs per event |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for n in $PG_E2E_PROCS; do
        l="${PG_E2E[$n]:-}"
        echo "| $n | $(kv processed "$l")/$(kv events "$l") | $(kv post_rate "$l") | $(kv e2e_s "$l") | $(kv e2e_rate "$l") | $(kv lat_p50_ms "$l") | $(kv lat_p99_ms "$l") | $(kv redelivered "$l") | ${PG_E2E_CPU[$n]:-n/a} |"
    done
    echo
    read -r pg_rows pg_heap pg_index pg_total <<<"${PG_DISK_LINE:-0 0 0 0}"
    echo "On disk after the last end-to-end run (\`VACUUM\`ed): ${pg_rows:-0} events take"
    echo "$(calc "round(${pg_total:-0}/max(1,${pg_rows:-0}))") bytes each with their indexes (table $(calc "round(${pg_heap:-0}/max(1,${pg_rows:-0}))"), indexes $(calc "round(${pg_index:-0}/max(1,${pg_rows:-0}))")); WAL comes on top and is recycled."
    echo
    fi
    echo "## Memory per held event"
    echo
    echo "A logger with a broker and no processors (so events stay \`queued\`/\`pending\`) is sent 10,000 warm-up"
    echo "events, then $RSS_EVENTS more with body \`$RSS_BODY\`. Bytes per event = ΔRSS / events; the"
    echo "strings are user_id + description ($STRING_BYTES bytes), everything else (id, status, times,"
    echo "indexes, allocator overhead) counts as beyond."
    echo
    echo "| events | RSS before | RSS after | bytes/event | beyond strings | broker RSS |"
    echo "| --- | --- | --- | --- | --- | --- |"
    echo "| ${POSTED:-n/a} | $(kv before "$RSS_LINE") kB | $(kv after "$RSS_LINE") kB | ${PER_EVENT:-n/a} | ${BEYOND:-n/a} | ${BROKER_RSS:-n/a} kB |"
    echo
    echo "## Broker alone"
    echo
    echo "\`broker_bench\`: one thread PUSHes $BROKER_MSGS six-frame version-1 event messages into the broker's"
    echo "frontend, another PULLs them from its backend; messages/s from the first send to the last receive."
    echo "\"libzmq proxy\" is the same through an in-process \`zmq_proxy\` (the floor the broker is built on)."
    echo
    echo "| path | messages | seconds | messages/s |"
    echo "| --- | --- | --- | --- |"
    echo "| queue-broker | $(kv received "${BROKER_LINE:-}")/$(kv messages "${BROKER_LINE:-}") | $(kv seconds "${BROKER_LINE:-}") | $(kv rate "${BROKER_LINE:-}") |"
    echo "| libzmq proxy | $(kv received "$SELF_LINE")/$(kv messages "$SELF_LINE") | $(kv seconds "$SELF_LINE") | $(kv rate "$SELF_LINE") |"
    echo
    echo "## The peer"
    echo
    echo "\`bench/peer/\`: the same API in FastAPI $($PY -c 'import fastapi; print(fastapi.__version__)' 2>/dev/null) on uvicorn (one process, uvloop + httptools,"
    echo "access log off), an in-memory dict, each event sent to a Celery task on Redis; the Celery worker"
    echo "(prefork, concurrency ${PEER_CONCURRENCY:-$(nproc)} = nproc, Celery's default) prints the line and PATCHes the status back"
    echo "with requests. For its create figures the worker is not running (tasks wait in Redis), as the"
    echo "C logger's create figures have no processors."
    echo
    echo "## Commands"
    echo
    echo "Ports are picked free at run time. Services also get \`--log-level warn\` (no per-event log lines)."
    echo
    echo '```'
    printf '%s\n' "${CMDS[@]}" | sed -e "s#$WORK/bin#${ORIG_BIN:-$BIN}#g" -e "s#$ROOT/##g"
    echo '```'
    echo
    if (( ${#PROBLEMS[@]} + ${#NOTES[@]} > 0 )); then
        echo "## Problems seen during the run"
        echo
        for p in "${PROBLEMS[@]:-}" "${NOTES[@]:-}"; do [[ -n "$p" ]] && echo "- ${p//$WORK/<work dir>}"; done
        echo
    fi
    if [[ -n "$SOAK_SECTION" ]]; then
        printf '%s\n' "$SOAK_SECTION"
    fi
} >"$OUT"
log "done: $OUT"
cat "$OUT" | sed -n '/## Targets/,/## Create throughput/p' >&2
