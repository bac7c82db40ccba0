"""The console's web app alone (no live feed) on a free loopback port, for tests of its HTTP views."""

from __future__ import annotations

import dataclasses

import pytest
from aiohttp import web

from consumers.console.app import create_console
from consumers.console.feed import ConsoleFeed
from streams.demo.embedded import free_port


@pytest.fixture
async def console(settings):
    settings = dataclasses.replace(settings, console_port=free_port())
    runner = web.AppRunner(create_console(settings, ConsoleFeed(settings)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.console_port).start()
    try:
        yield f"http://127.0.0.1:{settings.console_port}"
    finally:
        await runner.cleanup()
