#!/usr/bin/env bash
#   Build the libFuzzer harnesses with clang in build-fuzz/ and run each for
#   a while on a scratch copy of its seed corpus (the committed corpus is
#   never written). Exits non-zero if any harness crashes, leaks or hangs,
#   and prints the crashing input and the command that reproduces it.
#
#   Usage: tests/fuzz/run.sh [SECONDS]     (per harness, default 60)
#
#   Environment:
#     ENP_FUZZ_BUILD=DIR    build directory (default build-fuzz)
#     ENP_FUZZ_ONLY=NAME    run only this harness, e.g. fuzz_wire
#   Crashing inputs are kept in DIR/fuzz-artifacts/<harness>/.
set -euo pipefail
cd "$(dirname "$0")/../.."

duration="${1:-60}"
case "$duration" in
    ''|*[!0-9]*|0) echo "usage: $0 [SECONDS]  (a positive integer)" >&2; exit 2 ;;
esac
build="${ENP_FUZZ_BUILD:-build-fuzz}"
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
jobs=$(nproc 2>/dev/null || echo 2)
harnesses=(fuzz_event_create fuzz_event_status fuzz_event_list fuzz_wire
           fuzz_wire_batch fuzz_notify)
[ -n "${ENP_FUZZ_ONLY:-}" ] && harnesses=("$ENP_FUZZ_ONLY")

#   clang and its sanitizer/libFuzzer runtimes, then the usual build deps;
#   apt-get runs only when something is missing
fuzz_deps () {
    local missing=() package
    for package in clang libclang-rt-14-dev; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null \
            | grep -q "install ok installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "Installing: ${missing[*]}" >&2
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    . scripts/deps.sh
    enp_install build
}

fuzz_deps
echo "=== building harnesses in $build"
CC=clang cmake -S . -B "$build" -DENP_FUZZ=ON -DENP_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz -j"$jobs" >/dev/null

scratch=$(mktemp -d "${TMPDIR:-/tmp}/enp-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

passed=0
failed=0
for name in "${harnesses[@]}"; do
    binary="$build/fuzz/$name"
    artifacts="$build/fuzz-artifacts/$name"
    log="$scratch/$name.log"
    mkdir -p "$scratch/$name" "$artifacts"
    cp -R "tests/fuzz/corpus/$name/." "$scratch/$name/"
    options=(-max_total_time="$duration" -max_len=20000 -timeout=10
             -print_final_stats=1 -artifact_prefix="$artifacts/")
    case "$name" in
        fuzz_event_*) options+=(-dict=tests/fuzz/json.dict) ;;
    esac
    echo "=== $name: ${duration}s"
    status=0
    "$binary" "${options[@]}" "$scratch/$name" >"$log" 2>&1 || status=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    stats=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$stats")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$stats")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$stats")
    rate=$(sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p' <<<"$stats")
    summary="execs=${execs:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} exec/s=${rate:-?}"

    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
        echo "$name: ok $summary"
    else
        failed=$((failed + 1))
        echo "$name: FAILED (exit $status) $summary"
        #   The sanitizer report and libFuzzer's verdict, without the
        #   progress lines
        grep -vE '^#[0-9]+[[:space:]]|^INFO:|^stat::' "$log" | tail -60 | sed 's/^/    /'
        input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        if [ -n "$input" ]; then
            echo "$name: crashing input: $input"
            echo "$name: reproduce: $binary $input"
        else
            echo "$name: no input was written; full log follows"
            sed 's/^/    /' "$log" | tail -40
        fi
    fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
