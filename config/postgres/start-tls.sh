#!/bin/sh
# The postgres service's command: PostgreSQL with TLS on and the network limited to TLS plus a SCRAM
# password (config/postgres/pg_hba.conf). The server refuses a key file that is not private to it,
# which a mounted secret is not, so it runs on a copy.
set -eu
install -m 0600 -o postgres -g postgres /run/secrets/postgres_key /var/lib/postgresql/server.key
exec docker-entrypoint.sh postgres \
  -c ssl=on -c ssl_cert_file=/run/secrets/postgres_cert -c ssl_key_file=/var/lib/postgresql/server.key \
  -c password_encryption=scram-sha-256 -c hba_file=/etc/redwall/pg_hba.conf
