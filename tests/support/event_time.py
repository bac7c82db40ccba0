"""A worker and the sinks of one test's own (topics, consumer groups, ports), on event time
(REDWALL_CLOCK=event: ticks and events drive the engine's clock), for tests that play hours in seconds."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry

from consumers.sink import run_sinks
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics
from tests.support.topics import own_topics


@asynccontextmanager
async def event_time_street(settings, tmp_path, prefix: str, **overrides):
    """(run, settings, worker): `run` names the test's topics and groups; `overrides` replace settings."""
    run = f"{prefix}{random.randrange(10**6)}"
    mine = dataclasses.replace(
        settings,
        clock="event",
        clock_event_ack=True,
        web_port=free_port(),
        worker_metrics_port=free_port(),
        sink_metrics_port=free_port(),
        **own_topics(settings, run),
        **overrides,
    )
    await ensure_topics(mine)
    stop = asyncio.Event()
    sinks = asyncio.create_task(run_sinks(mine, CollectorRegistry(), stop, group_prefix=f"{run}-sink"))
    worker = RedwallProcess("worker", mine, tmp_path).start()
    try:
        await asyncio.to_thread(worker.wait_http, f"http://127.0.0.1:{mine.worker_metrics_port}/metrics")
        yield run, mine, worker
    finally:
        worker.stop()
        stop.set()
        await asyncio.wait_for(sinks, 30)
