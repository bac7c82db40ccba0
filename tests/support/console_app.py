"""The console's web app alone (no live feed) in the test's own process, for tests of its HTTP views."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from consumers.console.app import create_console
from consumers.console.feed import ConsoleFeed


@contextlib.asynccontextmanager
async def serving(settings) -> AsyncIterator[str]:
    """The console app of these settings in this process, on their console port: its base URL."""
    runner = web.AppRunner(create_console(settings, ConsoleFeed(settings)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.console_port).start()
    try:
        yield f"http://127.0.0.1:{settings.console_port}"
    finally:
        await runner.cleanup()
