"""The console's web app alone (no live feed) on a free loopback port, for tests of its HTTP views."""

from __future__ import annotations

import dataclasses

import pytest

from streams.demo.embedded import free_port
from tests.support.console_app import serving


@pytest.fixture
async def console(settings):
    async with serving(dataclasses.replace(settings, console_port=free_port())) as url:
        yield url
