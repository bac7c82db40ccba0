#!/bin/sh
# The postgres service's command: PostgreSQL with TLS on and the network limited to TLS plus a SCRAM
# password (config/postgres/pg_hba.conf). The server refuses a key file that is not private to it; the
# mounted secret is the operator's file (0600, not the server's user), so the server runs on a copy
# that only its own user may read, outside the data volume.
set -eu
install -d -m 0700 -o postgres -g postgres /run/redwall-tls
install -m 0600 -o postgres -g postgres /run/secrets/postgres_key /run/redwall-tls/server.key
exec docker-entrypoint.sh postgres \
  -c ssl=on -c ssl_cert_file=/run/secrets/postgres_cert -c ssl_key_file=/run/redwall-tls/server.key \
  -c password_encryption=scram-sha-256 -c hba_file=/etc/redwall/pg_hba.conf
