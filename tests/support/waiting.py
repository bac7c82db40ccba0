"""Waiting for what a running process will do, bounded in time."""

from __future__ import annotations

import asyncio
import time


async def eventually(check, limit: float, interval: float = 0.25):
    """Await `check()` until it returns something truthy or `limit` seconds pass; its last answer."""
    deadline = time.monotonic() + limit
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)
