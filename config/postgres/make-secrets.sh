#!/bin/sh
# Makes the files docker-compose.yml reads as secrets, once, before the first `docker compose up`:
#   config/postgres/make-secrets.sh [DIR]     (DIR defaults to ./secrets)
# a private CA, PostgreSQL's certificate for the host name "postgres" signed by it, and a random
# password for the Redwall role. Files that exist are kept, so running it again changes nothing.
# Bring your own CA and certificate by putting ca.pem, postgres.crt and postgres.key there instead.
set -eu
dir=${1:-./secrets}
mkdir -p "$dir"
chmod 0700 "$dir"   # the host's guard; the files inside must be readable by the containers' own users
cd "$dir"
if [ ! -f postgres_password ]; then
  openssl rand -base64 24 | tr -d '\n/+=' > postgres_password
fi
if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=Redwall private CA" \
    -keyout ca.key -out ca.pem 2>/dev/null
fi
if [ ! -f postgres.crt ]; then
  printf 'subjectAltName=DNS:postgres\nextendedKeyUsage=serverAuth\n' > postgres.ext
  openssl req -newkey rsa:3072 -nodes -subj "/CN=postgres" -keyout postgres.key -out postgres.csr 2>/dev/null
  openssl x509 -req -in postgres.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile postgres.ext -out postgres.crt 2>/dev/null
  rm -f postgres.csr postgres.ext
fi
chmod 0644 postgres_password ca.pem postgres.crt postgres.key
chmod 0600 ca.key   # never mounted: only for signing more certificates
echo "secrets in $dir: postgres_password, ca.pem, postgres.crt, postgres.key"
