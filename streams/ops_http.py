"""The ops listener of every Redwall process (worker, sink, delivery): `/metrics` for Prometheus and
`/healthz` for health checks, on a port of its own and nothing else on it (any other path is 404).

The worker's public port faces the phones and serves only the documented API, so what ops need lives
here, where a deployment keeps it on its internal network (docker-compose publishes none of these ports).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

PATHS = ("/metrics", "/healthz")


def ops_app(registry: CollectorRegistry, process: str) -> web.Application:
    """The ops routes over `registry`; HEAD is answered as GET."""

    async def metrics(request: web.Request) -> web.Response:
        # Off the event loop: a large registry takes milliseconds to render, which the loop's own work should not wait on.
        body = await asyncio.to_thread(generate_latest, registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        # Answered by the process's event loop: a loop that is stuck fails the check.
        return web.json_response({"status": "ok", "process": process})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app


async def start(registry: CollectorRegistry, process: str, host: str, port: int) -> web.AppRunner:
    """Listening on host:port once this returns; `cleanup()` the runner to stop."""
    runner = web.AppRunner(ops_app(registry, process), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("%s: ops listener on http://%s:%d (%s)", process, host, port, ", ".join(PATHS))
    return runner


@contextlib.asynccontextmanager
async def serving(registry: CollectorRegistry, process: str, host: str, port: int) -> AsyncIterator[None]:
    """The ops listener for the duration of the block (the sink and delivery processes)."""
    runner = await start(registry, process, host, port)
    try:
        yield
    finally:
        await runner.cleanup()
