"""What a buggy phone sends, for `--bad-records`: reports spoiled in one field (refused over HTTP with the
field named) and garbage published straight to the input topics, as a device publishing with kcat might
(each becomes a dead letter with its reason and its bytes)."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator

from config.settings import Settings
from streams.clock import stopped_within
from streams.produce import Out, producing, send_all
from streams.topics import client_options


def spoiled(report: dict, rng: random.Random) -> dict:
    """The report with one field broken: missing, out of range, not in its enumeration, or not a time."""
    broken = dict(report)
    how = rng.randrange(4)
    if how == 0:
        del broken["category"]
    elif how == 1:
        broken["location"] = {"lat": 123.0, "lng": report["location"]["lng"]}
    elif how == 2:
        broken["severity"] = "apocalyptic"
    else:
        broken["event_time"] = "yesterday"
    return broken


async def publish_garbage(
    settings: Settings, stop: asyncio.Event, every: float, *, kafka: dict | None = None
) -> AsyncIterator[str]:
    """One malformed record at once and then one every `every` seconds until `stop`; yields each one's topic."""
    samples = [
        (settings.topic_reports, b'{"id": "broken", "category": '),
        (settings.topic_pings, b'{"device": "dev-x", "pings": [{"lat": "north"}]}'),
        (settings.topic_reports, b"\xff\xfe not json at all"),
    ]
    async with producing(client_options(settings, kafka)) as producer:
        for n in itertools.count():
            if stop.is_set():
                return
            topic, value = samples[n % len(samples)]
            await send_all(producer, [Out(topic, b"kcat-device", value)])
            yield topic
            await stopped_within(stop, every)
