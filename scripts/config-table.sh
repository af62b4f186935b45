#!/usr/bin/env bash
#   Print the configuration table of every service, generated from each
#   binary's own --help, so the README cannot drift from the code.
#     scripts/config-table.sh [BIN_DIR]            print the Markdown table
#     scripts/config-table.sh --check [BIN_DIR]    exit 1 if README.md differs
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
bin=${1:-build/bin}

table () {
    echo "| service | flag | environment variable | default | what it does |"
    echo "| --- | --- | --- | --- | --- |"
    local app
    for app in event-logger queue-broker notification-processor; do
        "$bin/$app" --help | awk -v app="$app" '
            /^  --/ { flag = $1; next }
            /^      env / {
                line = $0; sub(/^      env /, "", line)
                var = line; sub(/,.*/, "", var)
                def = "switch, off"
                if (line ~ /default /) { def = line; sub(/.*default /, "", def); gsub(/\x27/, "", def); def = "`" def "`" }
                if (def == "``") def = "(empty)"
                printf "| %s | `%s` | `%s` | %s | %s |\n", app, flag, var, def, help
                next
            }
            /^      / { help = $0; sub(/^ +/, "", help); gsub(/\|/, "\\|", help) }'
    done
}

if [ $check = 0 ]; then
    table
    exit 0
fi
expected=$(table)
actual=$(sed -n '/<!-- config-table:begin -->/,/<!-- config-table:end -->/p' README.md | sed '1d;$d')
if [ "$expected" != "$actual" ]; then
    echo "README.md's configuration table differs from the binaries' --help;" >&2
    echo "regenerate it with scripts/config-table.sh:" >&2
    diff <(echo "$actual") <(echo "$expected") >&2 || true
    exit 1
fi
echo "README configuration table matches --help of all three services"
