"""streams/http/: the worker's public port. Validate at the edge, produce to the input topics, answer
with the field and the reason; nothing of a refused request is kept.

Ingest (POST /v1/reports, /v1/pings), actions on incidents and their verdicts, authentication by token or
HMAC signature, per-device limits, GET /openapi.json. See README.md here.
"""
