-- wrk script: POST /events with a small valid JSON event.
--   wrk -t2 -c64 -d10s -s bench/wrk/post_events.lua http://127.0.0.1:PORT
-- Prints a machine-readable line at the end (for bench/run.sh):
--   WRK_RESULT requests=... rps=... status_errors=... p50_ms=... p99_ms=... errors=...
-- (status_errors: responses >= 400; no response() hook, which would slow wrk down)
wrk.method = "POST"
wrk.path = "/events"
wrk.body = '{"user_id":"u1","description":"bench"}'
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "WRK_RESULT requests=%d rps=%.0f status_errors=%d p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests, summary.requests / secs, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout + e.status))
end
