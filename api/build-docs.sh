#!/bin/sh
# build-docs.sh DEST - put the Swagger UI page the event-logger serves at /docs into DEST.
#
# Copies api/docs/index.html and the swagger-ui-dist files it loads (plus the spec, so
# DEST holds everything /docs and /openapi.yaml need) from api/node_modules, which
# `npm ci` (or `npm ci --omit=dev`) in api/ must have installed first. Needs no network.
# Used by the CMake build and the Dockerfile; the logger gets DEST as --docs-dir.
set -eu

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DEST" >&2
    exit 2
fi
dest=$1
here=$(cd "$(dirname "$0")" && pwd)
dist="$here/node_modules/swagger-ui-dist"

if [ ! -f "$dist/swagger-ui-bundle.js" ]; then
    echo "$0: $dist is missing; run 'npm ci' (or 'npm ci --omit=dev') in $here first" >&2
    exit 1
fi

mkdir -p "$dest"
cp "$here/docs/index.html" "$dest/index.html"
for f in swagger-ui-bundle.js swagger-ui-standalone-preset.js swagger-ui.css favicon-32x32.png; do
    cp "$dist/$f" "$dest/$f"
done
cp "$here/openapi.yaml" "$dest/openapi.yaml"
echo "build-docs: Swagger UI $(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$dist/package.json" | head -n 1) -> $dest"
