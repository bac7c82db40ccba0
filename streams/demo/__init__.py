"""streams/demo/: `redwall demo` and what plays the street around the pipeline. Never used in production.

The supervisor and its child processes, the embedded Tansu broker and PostgreSQL (also the tests'), the
compressed working day, the simulated phones, dispatchers and 12345 adapter, and `redwall inbox`. See
README.md here.
"""
