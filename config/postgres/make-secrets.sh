#!/bin/sh
# Makes every file docker-compose.yml mounts as a secret, once, before the first `docker compose up`:
#   config/postgres/make-secrets.sh [DIR]     (DIR defaults to ./secrets; docs/production.md, "Secrets")
# - a random password per PostgreSQL login: postgres_password (the owner, used only by `migrate`),
#   pg_worker_password, pg_sink_password, pg_deliver_password, pg_console_password, pg_grafana_password
#   (`redwall migrate` gives each role its file's password);
# - kafka_password, and kafka_jaas.conf made from it: the broker's users and its own tools' login, so
#   the password is in no environment variable;
# - grafana_admin_password;
# - a private CA (ca.pem; ca.key stays here, never mounted), PostgreSQL's certificate for the host name
#   "postgres", and a first certificate for the proxy's sites (site.crt, site.key) for the names in
#   REDWALL_SITE_NAMES (default: localhost). Replace site.crt/site.key with the street's own certificate,
#   or set REDWALL_TLS to an e-mail address for ACME (.env.example).
# Files that exist are kept (put your own password or certificate there first to use it), so running it
# again changes nothing; kafka_jaas.conf is always made again from kafka_password. A password may hold
# any character but a line break; Grafana reads pg_grafana_password through its own `$` expansion, so
# that one must not hold `$`.
set -eu
dir=${1:-./secrets}
mkdir -p "$dir"
chmod 0700 "$dir"   # the host's guard: only the operator reaches the files inside
cd "$dir"
umask 077

password() {  # 40-odd letters and digits: nothing any file format or shell has to quote
  [ -f "$1" ] || openssl rand -base64 33 | tr -d '\n/+=' > "$1"
  if [ "$(wc -l < "$1")" -gt 0 ] && [ -n "$(sed -n 2p "$1")" ]; then
    echo "make-secrets: $dir/$1 holds more than one line: a password is one line" >&2; exit 2
  fi
}

for name in postgres_password pg_worker_password pg_sink_password pg_deliver_password pg_console_password \
            pg_grafana_password kafka_password grafana_admin_password; do
  password "$name"
done
if grep -q '\$' pg_grafana_password; then
  echo "make-secrets: $dir/pg_grafana_password holds '\$', which Grafana would expand: choose another" >&2; exit 2
fi

# JAAS quotes with "..." and takes \ as an escape: both are escaped, so any password logs in as written.
kafka=$(sed 's/[\\"]/\\&/g' kafka_password)
cat > kafka_jaas.conf <<JAAS
// Made by config/postgres/make-secrets.sh from kafka_password: the users of the broker's SASL listener
// (KafkaServer) and the login of its own tools, such as the health check (KafkaClient).
KafkaServer {
  org.apache.kafka.common.security.plain.PlainLoginModule required
  user_redwall="$kafka";
};
KafkaClient {
  org.apache.kafka.common.security.plain.PlainLoginModule required
  username="redwall"
  password="$kafka";
};
JAAS

if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=Redwall private CA" \
    -keyout ca.key -out ca.pem 2>/dev/null
fi

certificate() {  # NAME "DNS:a,DNS:b": NAME.crt and NAME.key signed by the private CA
  [ -f "$1.crt" ] && return
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$2" > "$1.ext"
  cn=$(echo "$2" | cut -d, -f1)
  openssl req -newkey rsa:3072 -nodes -subj "/CN=${cn#DNS:}" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
certificate postgres "DNS:postgres"
names=$(echo "${REDWALL_SITE_NAMES:-localhost}" | tr ' ,' '\n\n' | sed '/^$/d; s/^/DNS:/' | paste -sd, -)
certificate site "$names"

# Readable inside the containers, whose users are not the operator (postgres 999, redwall 10001,
# grafana 472, kafka's appuser 1000). The private keys are read only by root in their containers
# (PostgreSQL's start-tls.sh copies its key for the server; Caddy runs as root), so they stay 0600.
chmod 0644 postgres_password pg_worker_password pg_sink_password pg_deliver_password pg_console_password \
  pg_grafana_password kafka_password kafka_jaas.conf grafana_admin_password ca.pem postgres.crt site.crt
chmod 0600 ca.key postgres.key site.key
echo "secrets in $dir: passwords, kafka_jaas.conf, ca.pem, postgres.crt/.key, site.crt/.key (for: $names)"
