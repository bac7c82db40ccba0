"""config/: what is configured, refused at start-up naming the file, the key and the fix.

The one frozen Settings (read from the environment), the street's geometry, escalation rules, routing,
roster and major events, how Kafka and PostgreSQL connections are secured; beside them the files of
Prometheus, Grafana, PostgreSQL, Kafka and the proxy. Imports schemas/ only. See README.md here.
"""
