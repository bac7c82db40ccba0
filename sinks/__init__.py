"""sinks/: where events land: PostgreSQL and webhooks. No Kafka, no Faust.

Migrations, roles and grants; the idempotent writes of each sink (reports, positions, dead letters,
incidents, patrol, major events, the delivery log); public read helpers for the worker, the console and
the CLI; the credential store; the webhook channels. See README.md here.
"""
