#!/usr/bin/env bash
#   Run every test: installs what it needs, builds, runs ctest in a normal
#   build and in an AddressSanitizer + UBSan build, checks the unit suites
#   under valgrind, then the API checks (spec lint; the contract suite: live
#   answers held to the spec by ajv and by Stoplight Prism as a validating
#   proxy, every spec example replayed, a seeded random-request pass; the
#   browser test) and, when a Docker engine answers, the container
#   end-to-end test. npm ci in api/ installs what the API checks need.
#
#   Environment:
#     ENP_SKIP_ASAN=1      skip the sanitizer build
#     ENP_SKIP_VALGRIND=1  skip valgrind
#     ENP_BROWSER=1        require the browser test (installs Chromium)
#     ENP_E2E=1            require the Docker end-to-end test
#     ENP_SKIP_E2E=1       skip the Docker end-to-end test even when an engine
#                          answers (it is run elsewhere, on a shared engine)
#     ENP_PROMTOOL=1       install promtool so ctest checks every /metrics
#     ENP_DOCKER_LOCK=FILE run the container test under flock FILE (a Docker
#                          engine shared by several checkouts)
#
#   Stress mode: scripts/test.sh --repeat N builds, then runs the unit
#   suites (ctest label "unit") N times in a row in the normal and the
#   sanitizer build, stopping at the first failure, to catch flaky tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/deps.sh

repeat=0
case "${1:-}" in
    --repeat)
        repeat=${2:-}
        [[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [--repeat N]" >&2; exit 2; } ;;
    "") ;;
    *)  echo "usage: $0 [--repeat N]" >&2; exit 2 ;;
esac

jobs=$(nproc 2>/dev/null || echo 2)
groups=(build test node)
[ "${ENP_BROWSER:-0}" = 1 ] && groups+=(browser)
[ "${ENP_PROMTOOL:-0}" = 1 ] && groups+=(metrics)
enp_install "${groups[@]}"

passed=0
failed=0
step () {  # step NAME COMMAND... : run, time and count one step
    local name="$1" start=$SECONDS
    shift
    echo "=== $name"
    if "$@"; then
        passed=$((passed + 1))
        echo "=== $name: ok ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1))
        echo "=== $name: FAILED ($((SECONDS - start)) s)"
    fi
}

npm_ci () {
    (cd api && npm ci --no-audit --no-fund --loglevel=error)
}

build () {  # build DIR [cmake args]
    local dir="$1"
    shift
    cmake -S . -B "$dir" "$@" >/dev/null && cmake --build "$dir" -j"$jobs"
}

ctest_in () {
    (cd "$1" && ctest --output-on-failure -j"$jobs")
}

repeat_units () {  # repeat_units DIR N
    (cd "$1" && ctest --output-on-failure -j"$jobs" -L unit --repeat until-fail:"$2")
}

#   The API checks run the logger of the normal build with the Swagger UI
#   files that build assembled
api_check () {  # api_check NPM_SCRIPT
    (cd api && LOGGER_BIN="$root/build/bin/event-logger" \
        DOCS_DIR="$root/build/share/event-logger/docs" npm run --silent "$1")
}

#   Unit suites only: the integration and fault suites run real services,
#   which valgrind would slow past their timeouts
valgrind_units () {
    local suite status=0
    for suite in build/tests/test_enp_* build/tests/test_broker* \
                 build/tests/test_worker* build/tests/test_logger_metrics \
                 build/tests/test_logger_store \
                 build/tests/test_logger_dispatcher; do
        [ -x "$suite" ] || continue
        CK_FORK=no valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --error-exitcode=1 "$suite" >/dev/null 2>"$suite.valgrind" \
            || { echo "valgrind: $suite"; cat "$suite.valgrind"; status=1; }
    done
    return $status
}

step "npm ci (api/)" npm_ci
step "build" build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENP_BUILD_TESTS=ON
if [ "$repeat" -gt 0 ]; then
    step "unit suites x$repeat" repeat_units build "$repeat"
    if [ "${ENP_SKIP_ASAN:-0}" != 1 ]; then
        step "build with ASan+UBSan" build build-asan -DCMAKE_BUILD_TYPE=Debug -DENP_SANITIZE=ON -DENP_BUILD_TESTS=ON
        step "unit suites x$repeat with ASan+UBSan" repeat_units build-asan "$repeat"
    fi
    echo
    echo "test.sh --repeat $repeat: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi
step "ctest" ctest_in build
if [ "${ENP_SKIP_ASAN:-0}" != 1 ]; then
    step "build with ASan+UBSan" build build-asan -DCMAKE_BUILD_TYPE=Debug -DENP_SANITIZE=ON -DENP_BUILD_TESTS=ON
    step "ctest with ASan+UBSan" ctest_in build-asan
fi
[ "${ENP_SKIP_VALGRIND:-0}" != 1 ] && step "valgrind on unit suites" valgrind_units

#   The API checks (Redocly, node:test) need Node.js 20 or newer; Debian 12's
#   own nodejs is 18, so there they are skipped with a note unless required
node_ok () { node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' 2>/dev/null; }
if [ -f api/package.json ] && ! node_ok; then
    if [ "${ENP_BROWSER:-0}" = 1 ]; then
        echo "API checks required but Node.js >= 20 is missing ($(node --version 2>&1))"; failed=$((failed + 1))
    else
        echo "=== API checks skipped: they need Node.js >= 20 (found $(node --version 2>&1))"
    fi
elif [ -f api/package.json ]; then
    step "OpenAPI lint" api_check lint
    step "contract test" api_check test:contract
    if [ -x /usr/bin/chromium ]; then
        step "browser test" api_check test:browser
    elif [ "${ENP_BROWSER:-0}" = 1 ]; then
        echo "browser test required but /usr/bin/chromium is missing"; failed=$((failed + 1))
    else
        echo "=== browser test skipped: Chromium not installed (ENP_BROWSER=1 installs it)"
    fi
fi

#   ENP_DOCKER_LOCK=FILE: several checkouts share one Docker engine; take
#   turns through flock on FILE
e2e () {
    if [ -n "${ENP_DOCKER_LOCK:-}" ]; then
        flock "$ENP_DOCKER_LOCK" tests/e2e/run.sh
    else
        tests/e2e/run.sh
    fi
}
if [ "${ENP_SKIP_E2E:-0}" = 1 ] && [ "${ENP_E2E:-0}" != 1 ]; then
    echo "=== container end-to-end test skipped: ENP_SKIP_E2E=1"
elif [ -x tests/e2e/run.sh ] && docker info >/dev/null 2>&1; then
    step "container end-to-end test" e2e
elif [ "${ENP_E2E:-0}" = 1 ]; then
    echo "end-to-end test required but no Docker engine answers"; failed=$((failed + 1))
else
    echo "=== container end-to-end test skipped: no Docker engine answers"
fi

echo
echo "test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
