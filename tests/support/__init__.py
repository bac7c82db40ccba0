"""tests/support/: helpers shared by tests of more than one folder, never by one test module importing
another. A helper one folder uses stays beside it.

Factories of records and incidents, credentials, webhook receivers, TLS and role fixtures, a SASL front,
the running pipeline, own topics, waiting for rows and conditions, alerts published and delivered, the
manual clock, the patrol tests' sample grids, promtool, the console's documented routes, and the import
graph the house rules read (imports.py, uses.py).
"""
