#!/bin/sh
# Entry point of the haproxy stand-in, as the official image's: flags alone
# go to haproxy, and haproxy runs in the foreground as a master (-W -db).
set -e
if [ "${1#-}" != "$1" ]; then
    set -- haproxy "$@"
fi
if [ "$1" = haproxy ]; then
    shift
    set -- haproxy -W -db "$@"
fi
exec "$@"
