#!/usr/bin/env bash
# Make the base image debian:bookworm-slim locally when the engine does not have it.
#
# There is no Docker Hub here, so instead of `docker pull` we build a minimal
# Debian 12 root file system with debootstrap and import it. The mirror is read
# at run time from the host's apt configuration (never written into this repo).
#
# Usage: scripts/docker-base-image.sh [--force]
#   --force   rebuild even when the image already exists
# Env:    BASE_IMAGE (default debian:bookworm-slim), SUITE (default bookworm)
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
SUITE=${SUITE:-bookworm}
FORCE=0
[[ ${1:-} == --force ]] && FORCE=1

log() { printf '[docker-base-image] %s\n' "$*" >&2; }

if [[ $FORCE == 0 ]] && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "$BASE_IMAGE already present"
    exit 0
fi

command -v debootstrap >/dev/null || { log "debootstrap is not installed"; exit 1; }
[[ $(id -u) == 0 ]] || { log "debootstrap needs root"; exit 1; }

# The first URIs: line of the deb822 sources file (the main archive, not security).
SOURCES=/etc/apt/sources.list.d/debian.sources
MIRROR=""
if [[ -r $SOURCES ]]; then
    MIRROR=$(awk '/^URIs:/ { print $2; exit }' "$SOURCES")
fi
if [[ -z $MIRROR && -r /etc/apt/sources.list ]]; then
    MIRROR=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list)
fi
[[ -n $MIRROR ]] || { log "no Debian mirror found in $SOURCES"; exit 1; }

DIR=$(mktemp -d /tmp/debootstrap-XXXXXX)
cleanup() {
    # debootstrap mounts proc/sys inside the target; a failed run may leave them.
    for m in "$DIR/proc" "$DIR/sys" "$DIR/dev/pts"; do
        mountpoint -q "$m" 2>/dev/null && umount -l "$m" || true
    done
    rm -rf --one-file-system "$DIR"
}
trap cleanup EXIT

log "debootstrap --variant=minbase $SUITE into $DIR"
debootstrap --variant=minbase "$SUITE" "$DIR" "$MIRROR" >"$DIR.log" 2>&1 || {
    tail -n 30 "$DIR.log" >&2; rm -f "$DIR.log"; exit 1; }
rm -f "$DIR.log"

# Same apt sources as the host (main + updates + security), so images get fixes.
if [[ -r $SOURCES ]]; then
    rm -f "$DIR/etc/apt/sources.list"
    cp "$SOURCES" "$DIR/etc/apt/sources.list.d/debian.sources"
fi

# Extra CA certificates of this machine (TLS-inspecting egress); they become
# trusted once a stage installs ca-certificates (update-ca-certificates reads this dir).
mkdir -p "$DIR/usr/local/share/ca-certificates"
shopt -s nullglob
for crt in /usr/local/share/ca-certificates/*.crt; do
    cp "$crt" "$DIR/usr/local/share/ca-certificates/"
done
shopt -u nullglob

# What the official -slim image does (debuerreotype): no docs, man pages or
# translations; apt keeps no caches; services do not start during builds.
cat >"$DIR/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
cat >"$DIR/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$DIR/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$DIR/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'APT::AutoRemove::SuggestsImportant "false";' >"$DIR/etc/apt/apt.conf.d/docker-autoremove-suggests"
printf '#!/bin/sh\nexit 101\n' >"$DIR/usr/sbin/policy-rc.d"
chmod 0755 "$DIR/usr/sbin/policy-rc.d"

# Trim what debootstrap already unpacked, and the caches it left.
find "$DIR/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$DIR/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$DIR"/usr/share/man/* "$DIR"/usr/share/info/* "$DIR"/usr/share/groff/* \
       "$DIR"/usr/share/lintian/* "$DIR"/var/cache/apt/*.bin \
       "$DIR"/var/cache/apt/archives/*.deb "$DIR"/var/lib/apt/lists/* "$DIR"/var/log/*.log \
       "$DIR"/tmp/* "$DIR"/root/.cache
find "$DIR/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
: >"$DIR/etc/machine-id"
rm -f "$DIR/etc/hostname" "$DIR/etc/resolv.conf"

log "importing as $BASE_IMAGE"
tar --numeric-owner -C "$DIR" -c . |
  docker import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
docker image ls "$BASE_IMAGE" >&2
