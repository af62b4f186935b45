#!/usr/bin/env bash
#   Make a private CA and a certificate for the event-logger's HTTPS.
#       scripts/make-tls-certs.sh DIR [NAME ...]
#   NAME: each DNS name or IP address processors reach the logger by, as in
#   their --logger-url (default: localhost 127.0.0.1). Writes, in DIR:
#       ca.pem       the CA's certificate: processors verify with it
#                    (--logger-ca DIR/ca.pem)
#       ca-key.pem   the CA's private key: keep it apart; it signs the next
#                    logger certificate
#       logger.pem   the logger's certificate and private key, for
#                    --tls-cert DIR/logger.pem (readable by its owner only)
#   A CA already in DIR is kept, so a renewed logger certificate is trusted
#   by processors without touching them. Needs the openssl command.
set -euo pipefail
dir=${1:?usage: make-tls-certs.sh DIR [NAME ...]}
shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(localhost 127.0.0.1)
command -v openssl >/dev/null \
    || { echo "make-tls-certs.sh: needs openssl (Debian package openssl)" >&2; exit 1; }

san=""
for name in "${names[@]}"; do
    if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+="IP:$name,"; else san+="DNS:$name,"; fi
done
san=${san%,}

mkdir -p "$dir"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
key () { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ ! -f "$dir/ca.pem" ] || [ ! -f "$dir/ca-key.pem" ]; then
    key "$dir/ca-key.pem"
    openssl req -x509 -new -key "$dir/ca-key.pem" -days 3650 -subj "/CN=event-logger CA" \
        -out "$dir/ca.pem"
    chmod 644 "$dir/ca.pem"
fi

key "$work/key.pem"
openssl req -new -key "$work/key.pem" -subj "/CN=${names[0]}" -out "$work/request.pem"
printf '%s\n' "subjectAltName=$san" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > "$work/extensions"
openssl x509 -req -in "$work/request.pem" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
    -set_serial "0x$(openssl rand -hex 16)" -days 825 -extfile "$work/extensions" \
    -out "$work/certificate.pem" 2>/dev/null
cat "$work/certificate.pem" "$work/key.pem" > "$dir/logger.pem"
echo "make-tls-certs.sh: $dir/logger.pem for $san, signed by $dir/ca.pem"
