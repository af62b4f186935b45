#!/usr/bin/env bash
#   Start broker, logger and one processor on free loopback ports, push a
#   few events through, scrape all three /metrics endpoints and run
#   `promtool check metrics` on each scrape. Stops everything it started.
set -euo pipefail
bin=${1:-build/bin}
free_port () { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(free_port); front=$(free_port); back=$(free_port); bm=$(free_port); pm=$(free_port)
dir=$(mktemp -d)
pids=()
cleanup () { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
"$bin/queue-broker" --frontend "tcp://127.0.0.1:$front" --backend "tcp://127.0.0.1:$back" \
    --metrics-host 127.0.0.1 --metrics-port "$bm" 2>"$dir/broker.log" & pids+=($!)
"$bin/event-logger" --host 127.0.0.1 --port "$http" --broker "tcp://127.0.0.1:$front" \
    2>"$dir/logger.log" & pids+=($!)
"$bin/notification-processor" --broker "tcp://127.0.0.1:$back" --logger-url "http://127.0.0.1:$http" \
    --metrics-host 127.0.0.1 --metrics-port "$pm" >"$dir/out" 2>"$dir/processor.log" & pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$http/readyz" >/dev/null && break; sleep 0.1; done
for i in $(seq 20); do
    curl -fs -XPOST "http://127.0.0.1:$http/events" -H 'content-type: application/json' \
         -d "{\"user_id\":\"u$i\",\"description\":\"metrics $i\"}" >/dev/null
done
curl -s -XGET "http://127.0.0.1:$http/nope" >/dev/null         # a 404 sample too
for _ in $(seq 50); do [ "$(wc -l <"$dir/out")" -ge 20 ] && break; sleep 0.1; done
status=0
for target in "event-logger http://127.0.0.1:$http/metrics" \
              "queue-broker http://127.0.0.1:$bm/metrics" \
              "notification-processor http://127.0.0.1:$pm/metrics"; do
    set -- $target
    if curl -fs "$2" | promtool check metrics; then
        echo "promtool: $1 metrics ok ($(curl -fs "$2" | grep -vc '^#') samples)"
    else
        echo "promtool: $1 metrics FAILED"; status=1
    fi
done
exit $status
