#!/usr/bin/env bash
#   Soak: push SOAK_EVENTS (default 500,000) events through the whole
#   pipeline (broker, logger, 2 processors on loopback) and sample the
#   logger's resident memory every second, to show memory is bounded and
#   returns to a plateau. Writes a Markdown section to stdout and, with
#   --write, into docs/benchmarks.md between soak markers.
#   Bounded: stops itself after SOAK_TIMEOUT seconds (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
events=${SOAK_EVENTS:-500000}
max_events=${SOAK_MAX_EVENTS:-100000}     # the store evicts processed events past this
timeout=${SOAK_TIMEOUT:-300}
write=0
[ "${1:-}" = "--write" ] && write=1

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DENP_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" --target event-logger queue-broker notification-processor >/dev/null
cmake -S bench -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target loadgen >/dev/null
bin=build-release/bin

free_port () { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(free_port); front=$(free_port); back=$(free_port)
dir=$(mktemp -d)
pids=()
cleanup () { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

"$bin/queue-broker" --frontend "tcp://127.0.0.1:$front" --backend "tcp://127.0.0.1:$back" \
    --metrics-port 0 --log-level warn 2>"$dir/broker.log" & pids+=($!)
"$bin/event-logger" --host 127.0.0.1 --port "$http" --broker "tcp://127.0.0.1:$front" \
    --max-events "$max_events" --log-level warn 2>"$dir/logger.log" & logger=$!; pids+=($logger)
for index in 1 2; do
    "$bin/notification-processor" --broker "tcp://127.0.0.1:$back" \
        --logger-url "http://127.0.0.1:$http" --metrics-port 0 --log-level warn \
        >/dev/null 2>"$dir/processor-$index.log" & pids+=($!)
done
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$http/readyz" >/dev/null && break; sleep 0.1; done

rss_kib () { awk '/^VmRSS/ {print $2}' "/proc/$logger/status"; }
metric () { curl -fs "http://127.0.0.1:$http/metrics" | awk -v name="$1" '$1 == name {print $2}'; }
start_rss=$(rss_kib)
samples="$dir/samples"
( while kill -0 "$logger" 2>/dev/null; do
      echo "$SECONDS $(rss_kib) $(metric events_created_total) $(metric events_processed_total)"
      sleep 1
  done ) > "$samples" 2>/dev/null &
sampler=$!

start=$SECONDS
timeout "$timeout" build-bench/loadgen burst --url "http://127.0.0.1:$http" \
    --events "$events" --conns 32 --post-only > "$dir/loadgen.out"
deadline=$((start + timeout))
while [ "$(metric events_processed_total)" != "$events" ] && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
elapsed=$((SECONDS - start))
sleep 2                                         # a last sample at rest
kill $sampler 2>/dev/null || true
processed=$(metric events_processed_total)
end_rss=$(rss_kib)
peak_rss=$(awk 'BEGIN{m=0} {if ($2>m) m=$2} END{print m}' "$samples")
in_store=$(metric 'events_in_store{status="processed"}')

report () {
    echo "<!-- soak:begin -->"
    echo "### Soak: $events events through the pipeline"
    echo
    echo "\`bench/soak.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores: broker, logger (\`--max-events $max_events\`)"
    echo "and 2 processors on loopback, \`loadgen burst --events $events --conns 32\`, logger RSS sampled"
    echo "each second. The store holds at most $max_events events, evicting the oldest processed ones,"
    echo "so memory must level off once it is full."
    echo
    echo "| figure | value |"
    echo "| --- | --- |"
    echo "| events accepted / processed | $events / $processed |"
    echo "| time until all processed | ${elapsed} s |"
    echo "| logger RSS at start | $((start_rss / 1024)) MiB |"
    echo "| logger RSS peak | $((peak_rss / 1024)) MiB |"
    echo "| events evicted to make room | $(metric events_evicted_total) |"
    echo "| logger RSS at the end ($in_store processed events held) | $((end_rss / 1024)) MiB |"
    echo "| RSS per held event | $(( (end_rss - start_rss) * 1024 / (in_store > 0 ? in_store : 1) )) bytes |"
    echo
    echo "RSS over time (seconds since start, MiB, created, processed):"
    echo
    echo '```'
    awk -v t0="$(head -1 "$samples" | cut -d' ' -f1)" 'NR % 5 == 1 {printf "%4d s  %5d MiB  %8s  %8s\n", $1 - t0, $2 / 1024, $3, $4}' "$samples"
    echo '```'
    echo "<!-- soak:end -->"
}
report | tee "$dir/report.md"
if [ $write = 1 ]; then
    touch docs/benchmarks.md
    if grep -q '<!-- soak:begin -->' docs/benchmarks.md; then
        python3 - "$dir/report.md" <<'PY'
import re, sys
new = open(sys.argv[1]).read().strip()
text = open("docs/benchmarks.md").read()
text = re.sub(r"<!-- soak:begin -->.*?<!-- soak:end -->", lambda m: new, text, flags=re.S)
open("docs/benchmarks.md", "w").write(text)
PY
    else
        { echo; cat "$dir/report.md"; } >> docs/benchmarks.md
    fi
    if ! grep -q 'soak:begin' docs/benchmarks.md; then
        echo "soak section not written" >&2
    fi
fi
[ "$processed" = "$events" ]
