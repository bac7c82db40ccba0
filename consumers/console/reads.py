"""What the console's JSON views share: an answer no cache keeps, and a read of PostgreSQL that answers 503
naming the field while the database is away (the page keeps what it shows and asks again)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from schemas import json
from schemas.fields import FieldError
from sinks.postgres import is_retriable
from streams.http.refusal import refusal_response


def fresh_json(body) -> web.Response:
    return web.Response(body=json.dumps(body), content_type="application/json", headers={"Cache-Control": "no-store"})


async def from_postgres(read: Callable[[object], Awaitable], db, field: str):
    """`await read(db)`, or a 503 answer naming `field` when PostgreSQL cannot be reached (other errors raise)."""
    try:
        return await read(db)
    except Exception as exc:
        if not is_retriable(exc):
            raise
        reason = f"PostgreSQL is unavailable: {type(exc).__name__}; retry shortly"
        return refusal_response(503, reason, [FieldError(field, reason)])
