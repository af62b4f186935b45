#!/usr/bin/env bash
#   Install the build into a temporary prefix and check what landed there.
#     tests/install/check.sh layout BUILD_DIR    the three programs, the
#         Swagger UI files and the spec, the OpenSSL 3 shims for the logger's
#         HTTPS, the systemd units; and the installed
#         logger serves /docs from the installed files
#     tests/install/check.sh systemd BUILD_DIR   `systemd-analyze verify` on
#         the installed units, whose ExecStart= names the installed binaries
#   Exits 1 with what is wrong; removes the prefix and stops what it started.
set -euo pipefail
mode=${1:?usage: check.sh layout|systemd BUILD_DIR}
build=$(cd "${2:?usage: check.sh layout|systemd BUILD_DIR}" && pwd)
prefix=$(mktemp -d /tmp/enp-install-XXXXXX)
pid=""
cleanup () {
    [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    rm -rf "$prefix"
}
trap cleanup EXIT
fail () { echo "install check: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$prefix.log" 2>&1 \
    || { cat "$prefix.log" >&2; rm -f "$prefix.log"; fail "cmake --install failed"; }
rm -f "$prefix.log"
units="$prefix/lib/systemd/system"

layout () {
    local file
    for file in bin/event-logger bin/queue-broker bin/notification-processor; do
        [ -x "$prefix/$file" ] || fail "$file is missing or not executable"
    done
    for file in share/event-logger/openapi.yaml share/event-logger/docs/index.html \
                lib/enp/libenp-libssl-compat.so lib/enp/libenp-libcrypto-compat.so \
                lib/systemd/system/event-logger.service \
                lib/systemd/system/queue-broker.service \
                lib/systemd/system/notification-processor@.service; do
        [ -s "$prefix/$file" ] || fail "$file is missing"
    done
    cmp -s "$prefix/share/event-logger/openapi.yaml" "$(dirname "$0")/../../api/openapi.yaml" \
        || fail "the installed spec differs from api/openapi.yaml"
    grep -q "^ExecStart=$prefix/bin/event-logger\$" "$units/event-logger.service" \
        || fail "event-logger.service does not start $prefix/bin/event-logger"
    #   Swagger UI itself is there when the build could fetch it (npm)
    if [ -f "$build/share/event-logger/docs/swagger-ui-bundle.js" ]; then
        [ -s "$prefix/share/event-logger/docs/swagger-ui-bundle.js" ] \
            || fail "swagger-ui-bundle.js was built but not installed"
        #   The installed logger, given no --docs-dir, serves the installed files
        local port
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        env -u EVENT_LOGGER_DOCS_DIR "$prefix/bin/event-logger" --host 127.0.0.1 --port "$port" \
            --broker tcp://127.0.0.1:9 --log-level warn 2>"$prefix/logger.log" &
        pid=$!
        local code=000
        for _ in $(seq 100); do
            code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/docs/swagger-ui-bundle.js" || true)
            [ "$code" = 000 ] || break
            sleep 0.1
        done
        [ "$code" = 200 ] || { cat "$prefix/logger.log" >&2; fail "installed logger answers /docs with $code"; }
    else
        echo "Swagger UI was not fetched in this build (no npm): /docs files not checked"
    fi
    echo "cmake --install: three programs, Swagger UI, spec and systemd units in place"
}

systemd () {
    command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (scripts/deps.sh test)"
    #   Any message (an unknown key, a binary that is not there) is a failure,
    #   not only a non-zero exit
    local out status=0
    out=$(cd "$units" && systemd-analyze verify --man=no ./event-logger.service \
              ./queue-broker.service ./notification-processor@1.service 2>&1) || status=$?
    if [ "$status" != 0 ] || [ -n "$out" ]; then
        echo "$out" >&2
        fail "systemd-analyze verify failed ($status)"
    fi
    echo "systemd-analyze verify: event-logger, queue-broker, notification-processor@1 clean"
}

case "$mode" in
    layout)  layout ;;
    systemd) systemd ;;
    *)       fail "unknown mode $mode" ;;
esac
