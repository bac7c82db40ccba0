"""The broker's epoch on the session's Tansu: written once, read back the same by the watch, and a watch
that keeps seeing it never stops the process."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer

from config.kafka_security import kafka_options
from streams.broker_epoch import CHECK_SECONDS, RECORD_WAIT_SECONDS, BrokerWatch, broker_epoch, epoch_now

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


async def test_a_loop_held_up_past_the_record_wait_is_not_a_lost_broker(settings, monkeypatch):
    """Seen in CI: a console's start-up held its event loop for seconds while the watch waited for the epoch
    record; the wait then ran out at once and read as "the broker lost its log", restarting a healthy
    process. A listed epoch topic whose record is slow to come is retried like an unreachable broker."""
    kafka = kafka_options(settings)
    stalls = []
    real_getone = AIOKafkaConsumer.getone

    def getone_after_a_stall(consumer, *partitions):
        if not stalls:  # the first read of the watch: the loop is held up while it waits
            stalls.append(asyncio.get_running_loop().call_soon(time.sleep, RECORD_WAIT_SECONDS + 0.5))
        return real_getone(consumer, *partitions)

    epoch = await broker_epoch(settings, kafka=kafka)
    monkeypatch.setattr(AIOKafkaConsumer, "getone", getone_after_a_stall)
    stop = asyncio.Event()
    watch = asyncio.create_task(BrokerWatch(settings, epoch, kafka=kafka).run(stop))
    await asyncio.sleep(RECORD_WAIT_SECONDS + CHECK_SECONDS * 2.5)
    assert stalls and not watch.done(), watch.exception()
    stop.set()
    await asyncio.wait_for(watch, CHECK_SECONDS + RECORD_WAIT_SECONDS + 10)
