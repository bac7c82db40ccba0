"""Waiting for rows in PostgreSQL and reading dead letters from the topic, for tests that post through the pipeline."""

from __future__ import annotations

import asyncio
import time

from schemas import json
from streams.topics import read_topic


async def wait_for(pg, query: str, args, expected: int, timeout: float = 90.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = await pg.fetchval(query, *args)
        if count >= expected or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.25)


async def dead_letters_from_topic(settings, key: bytes) -> list[dict]:
    return [json.loads(r.value) async for r in read_topic(settings, settings.topic_deadletter) if r.key == key]
