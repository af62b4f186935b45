#!/usr/bin/env bash
#   The repository must stand on its own: no tracked file may send a reader
#   to documents that only exist outside it (a design or style document kept
#   beside the repository, a folder of notes on the machine it was written
#   on). Whatever a reader needs is written into README.md, docs/ or api/.
#     tests/repo/self-contained.sh [REPO_DIR]
#   Exits 1 and lists each offending line when one is found.
set -euo pipefail
cd "${1:-$(dirname "$0")/../..}"

#   Bracketed characters so this file's own pattern does not match itself
pattern='DESIGN[.]md|STYLE[.]md|(^|[^A-Za-z0-9_.-])shared[/]|[/]work[/]'

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    hits=$(git grep -n -I -E "$pattern" -- . || true)
else
    #   A source tarball without .git: search what a build would read
    hits=$(grep -r -n -I -E "$pattern" --exclude-dir=node_modules \
               --exclude-dir='build*' . || true)
fi
if [ -n "$hits" ]; then
    echo "files refer to documents outside the repository:" >&2
    echo "$hits" >&2
    exit 1
fi
echo "no file refers to documents outside the repository"
