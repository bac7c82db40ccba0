"""streams/demo/: `redwall demo` and what plays the street around the pipeline. Never used in production.

The supervisor and its child processes, the embedded Tansu broker and PostgreSQL (also the tests'), the
compressed working day, the simulated phones and dispatchers, and `redwall inbox`. See README.md here.
"""
