"""streams/patrol/: GPS fixes in; patrol status changes, grid alerts and advisories out. agents.py is the
Faust wiring, advisories.advise claims hot cells in PostgreSQL; every other module is pure.

GPS quality checks, the per-device detector (on post, off post, offline, off duty) and its Faust table,
per-grid grouping and coverage gaps, hot-spot advisories (前响应). See README.md here.
"""
