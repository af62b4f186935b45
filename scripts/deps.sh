#!/usr/bin/env bash
#   Install the Debian/Ubuntu packages the named groups need, only when
#   missing. Sourced by run.sh and test.sh; usable alone:
#       scripts/deps.sh build test node browser
#   Groups: build (compile and run), test (Check, valgrind, sanitizers,
#   systemd-analyze for the unit files, PostgreSQL for the store's suites),
#   node (Swagger UI, spec lint, contract test), browser (Chromium).
#   Sourcing it only defines the two functions: the shell options of the
#   script that sources it stay as that script set them.

enp_packages () {
    local group
    for group in "$@"; do
        case "$group" in
            build)   echo build-essential cmake pkg-config libcivetweb-dev civetweb \
                          libzmq3-dev libczmq-dev uuid-dev libjansson-dev \
                          libcurl4-openssl-dev libpq-dev libssl-dev curl ca-certificates ;;
            test)    echo check valgrind clang libclang-rt-14-dev systemd python3 openssl \
                          postgresql ;;
            node)    echo nodejs npm ;;
            browser) echo chromium ;;
            metrics) echo prometheus ;;
            *) echo "deps.sh: unknown group $group" >&2; return 2 ;;
        esac
    done
}

enp_install () {
    local missing=() package
    #   civetweb: Debian's libcivetweb-dev CMake package names /usr/bin/civetweb,
    #   which only the civetweb package ships; without it find_package fails
    for package in $(enp_packages "$@"); do
        #   npm may come with a nodejs that is not Debian's (NodeSource's
        #   conflicts with Debian's npm): a working command is enough
        case "$package" in
            nodejs) command -v node >/dev/null && continue ;;
            npm)    command -v npm >/dev/null && continue ;;
        esac
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "Installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    #   Checked here rather than by set -e, which a sourcing script may not set
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    enp_install "${@:-build}"
fi
