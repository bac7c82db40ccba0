"""tests/support/: helpers shared by tests of more than one folder. A helper one folder uses stays there.

Factories of records, credentials, webhook receivers, TLS and role fixtures, a SASL front, the running
pipeline, own topics, waiting.
"""
