#!/bin/sh
# The postgres service's health check: what `migrate` and every other client do. TCP to the service's
# name, TLS with the server's certificate and host name checked (verify-full), the owner's SCRAM
# password, a query. `pg_isready` without -h asks the Unix socket, which the image's temporary
# initialisation server also answers (it listens on no TCP port): this fails until the real server is up.
# PGHOSTADDR (unset in compose) lets the tests reach a local server while the host name checked stays.
set -eu
export PGHOST="${PGHOST:-postgres}" PGPORT="${PGPORT:-5432}" PGDATABASE="$POSTGRES_DB" PGUSER="$POSTGRES_USER" \
  PGSSLMODE=verify-full PGSSLROOTCERT="${PGSSLROOTCERT:-/run/secrets/postgres_ca}" PGCONNECT_TIMEOUT=3
PGPASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
export PGPASSWORD
exec psql -XtAq -c 'SELECT 1' > /dev/null
