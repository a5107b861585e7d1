#!/bin/sh
# Makes a throwaway test CA and a server certificate for 127.0.0.1/localhost,
# plus a second CA that signed nothing (for "wrong CA" tests) and an RSA key
# pair for the JWT bearer flow. Nothing here is committed.
set -eu
dir=${1:-tests/certs}
mkdir -p "$dir"
cd "$dir"
q() { "$@" >/dev/null 2>&1; }
q openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sfbridge test CA" \
    -keyout ca.key -out ca.pem
q openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sfbridge wrong CA" \
    -keyout wrong-ca.key -out wrong-ca.pem
q openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.ext
q openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile san.ext -out server.pem
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out jwt.key
q openssl pkey -in jwt.key -pubout -out jwt.pub
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out jwt-other.key
rm -f server.csr san.ext ca.srl
