"""The console's GET /healthz, for a container's health check: 200 only while the console can serve
dispatchers (its live feed running, the credentials loaded, PostgreSQL answering), else 503 naming each
part that fails. It needs no dispatcher token and tells nothing about the street.

A health check that asked only whether the port answers stayed green while the console, sharing a
restarted worker's network namespace, was cut off from everything; this one asks what serving needs."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from aiohttp import web

from streams.credentials import CredentialCache

log = logging.getLogger(__name__)

# Well under a health check's own timeout (docker-compose.yml: 5 s), so a slow database is a clear 503.
POSTGRES_SECONDS = 2.0


class ConsoleHealth:
    def __init__(self, credentials: CredentialCache, pool_key: web.AppKey):
        self.credentials, self.pool_key = credentials, pool_key
        self.feed: asyncio.Task | None = None

    def follow(self, feed: asyncio.Task) -> None:
        """The task of the live feed (consumers/console/app.py `run_console`): once it ends, the console cannot serve."""
        self.feed = feed

    async def view(self, request: web.Request) -> web.Response:
        failing = self.failing_parts() + await self.postgres(request.app.get(self.pool_key))
        if failing:
            log.warning("console: unhealthy: %s", "; ".join(f"{f['field']}: {f['reason']}" for f in failing))
            return web.json_response(
                {"status": "unhealthy", "errors": failing}, status=503, headers={"Cache-Control": "no-store"}
            )
        return web.json_response({"status": "ok", "process": "console"}, headers={"Cache-Control": "no-store"})

    def failing_parts(self) -> list[dict]:
        failing = []
        if self.feed is None or self.feed.done():
            failing.append({"field": "feed", "reason": "the live feed is not running"})
        if not self.credentials.ready:
            failing.append({"field": "credentials", "reason": "not loaded from PostgreSQL yet: nobody can sign in"})
        return failing

    @staticmethod
    async def postgres(pool: asyncpg.Pool | None) -> list[dict]:
        if pool is None:
            return [{"field": "postgres", "reason": "no connection pool yet"}]
        try:
            async with asyncio.timeout(POSTGRES_SECONDS):
                await pool.fetchval("SELECT 1")
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            return [
                {
                    "field": "postgres",
                    "reason": f"no answer within {POSTGRES_SECONDS:.0f} s: {type(exc).__name__} {exc}"[:300],
                }
            ]
        return []
