"""The broker's epoch on the session's Tansu: written once, read back the same by the watch, and a watch
that keeps seeing it never stops the process."""

from __future__ import annotations

import asyncio

import pytest

from config.kafka_security import kafka_options
from streams.broker_epoch import CHECK_SECONDS, BrokerWatch, broker_epoch, epoch_now

pytestmark = pytest.mark.integration


async def test_the_watch_reads_the_epoch_every_process_agrees_on(settings):
    kafka = kafka_options(settings)
    first = await broker_epoch(settings, kafka=kafka)
    assert await broker_epoch(settings, kafka=kafka) == first  # written once, by whoever came first
    assert await epoch_now(settings, kafka) == first


async def test_a_watch_over_a_broker_that_kept_its_log_runs_until_stopped(settings):
    kafka = kafka_options(settings)
    stop = asyncio.Event()
    watch = asyncio.create_task(BrokerWatch(settings, await broker_epoch(settings, kafka=kafka), kafka=kafka).run(stop))
    await asyncio.sleep(CHECK_SECONDS * 2.5)
    assert not watch.done(), watch.exception()
    stop.set()
    await asyncio.wait_for(watch, CHECK_SECONDS + 10)
