"""consumers/console/: the dispatcher console (`redwall console`), an aiohttp server of its own. It reads
the topics and PostgreSQL and passes actions on to a worker; it never writes to Kafka or PostgreSQL.

The app and its routes, sign-in and sessions, the live feed (SSE), the action proxy, /healthz, and the
page's files in static/. See README.md here.
"""
