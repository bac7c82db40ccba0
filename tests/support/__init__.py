"""Helpers shared by tests of more than one folder: factories of records, credentials, receivers,
TLS and role fixtures, the running pipeline, own topics, waiting. A helper used by one folder stays there."""
