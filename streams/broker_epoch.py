"""Noticing that the broker lost its log: the embedded Tansu keeps it in memory, so a restarted broker
is empty (topics, records and committed offsets gone) while every client still holds positions into
the old log. A client reading on from those positions would skip new records, so each Redwall process
watches the broker's epoch (the first record of a one-partition topic, written once by whoever
starts first on a fresh broker) and, when it changes or vanishes, exits to be restarted clean.
Apache Kafka keeps the topic, so there the epoch never changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Coroutine

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, KafkaTimeoutError

from config.settings import Settings
from streams.clock import stopped_within
from streams.topics import client_options, ensure_topics, produce_records, read_topic

log = logging.getLogger(__name__)

EPOCH_TOPIC = "redwall.broker-epoch"
CHECK_SECONDS = 2.0
# The watch waits this long for the epoch record of a topic the broker still lists, and then tries again
# next round, as for an unreachable broker: on a loaded machine a first fetch can take seconds, and a
# process's own start-up can hold its event loop past any wait, so a slow record says nothing. A lost
# broker lists no epoch topic (or, once a restarted process wrote one, a different record): seen at once.
RECORD_WAIT_SECONDS = 5.0
UNREACHABLE_SECONDS = 30.0  # a broker away this long is treated as lost: restarting costs seconds
EXIT_BROKER_LOST = 75  # EX_TEMPFAIL: the supervisor (`redwall demo`, compose `restart:`) starts us again


class BrokerLost(Exception):
    """The broker no longer holds the log this process was reading: restart against the new one."""


async def broker_epoch(settings: Settings, *, kafka: dict | None = None) -> str:
    """The epoch of the broker as it is now, written first if this broker has none yet."""
    # Kept for ever: on Apache Kafka retention must never remove the epoch record.
    await ensure_topics(settings, (EPOCH_TOPIC,), partitions=1, configs={"retention.ms": "-1"}, kafka=kafka)
    epoch = await _first_record(settings, kafka)
    if epoch is None:
        await produce_records(settings, EPOCH_TOPIC, [(b"epoch", uuid.uuid4().hex.encode())], kafka=kafka)
        epoch = await _first_record(settings, kafka)  # two starting at once both write; the first one counts
    if epoch is None:
        raise BrokerLost(f"the broker at {settings.broker} did not keep the epoch record just written")
    return epoch


class BrokerWatch:
    """Checks every CHECK_SECONDS that the broker still holds `epoch`; raises BrokerLost when not."""

    def __init__(self, settings: Settings, epoch: str, *, kafka: dict | None = None):
        # Built once here if not handed down: the watch opens a client every CHECK_SECONDS.
        self.settings, self.epoch, self.kafka = settings, epoch, client_options(settings, kafka)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        last_seen = loop.time()
        while not stop.is_set():
            try:
                now = await epoch_now(self.settings, self.kafka)
            except KafkaError as exc:
                if loop.time() - last_seen > UNREACHABLE_SECONDS:
                    raise BrokerLost(
                        f"the broker at {self.settings.broker} has been unreachable for "
                        f"{UNREACHABLE_SECONDS:.0f} s: {exc}"
                    ) from exc
            else:
                if now != self.epoch:
                    raise BrokerLost(
                        f"the broker at {self.settings.broker} lost its log (epoch {self.epoch} is "
                        f"now {now or 'gone'}): it restarted empty"
                    )
                last_seen = loop.time()
            await stopped_within(stop, CHECK_SECONDS)


def exit_for_restart(lost: BrokerLost, process: str) -> None:
    """Leave at once, committing nothing into the new broker: the supervisor starts us again."""
    log.critical(
        "%s: %s; exiting with %d so that the supervisor restarts it against the broker as it is now",
        process,
        lost,
        EXIT_BROKER_LOST,
    )
    logging.shutdown()
    os._exit(EXIT_BROKER_LOST)


async def _first_record(settings: Settings, kafka: dict | None) -> str | None:
    first = read_topic(settings, EPOCH_TOPIC, partitions=[0], kafka=kafka)
    async with contextlib.aclosing(first) as records:
        async for record in records:
            return record.value.decode()
    return None


async def epoch_now(settings: Settings, kafka: dict) -> str | None:
    """The epoch record as the broker holds it now, or None when its topic is gone; KafkaTimeoutError when
    the topic is listed but its record did not come within RECORD_WAIT_SECONDS."""
    consumer = AIOKafkaConsumer(**kafka, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        if EPOCH_TOPIC not in await consumer.topics():
            return None
        first = TopicPartition(EPOCH_TOPIC, 0)
        consumer.assign([first])
        await consumer.seek_to_beginning(first)
        try:
            async with asyncio.timeout(RECORD_WAIT_SECONDS):
                return (await consumer.getone()).value.decode()
        except TimeoutError:
            raise KafkaTimeoutError(f"the epoch record did not come within {RECORD_WAIT_SECONDS:.0f} s") from None
    finally:
        await consumer.stop()


async def run_watched(
    settings: Settings, process: str, work: Coroutine, stop: asyncio.Event, *, kafka: dict | None = None
) -> None:
    """Run `work` (a sink or delivery process's main loop) while watching the broker's epoch; when the
    broker lost its log, exit for a restart instead of carrying on from positions into the old log."""
    try:
        epoch = await broker_epoch(settings, kafka=kafka)
    except BaseException:
        work.close()  # never started: no "coroutine was never awaited"
        raise
    watch = asyncio.create_task(BrokerWatch(settings, epoch, kafka=kafka).run(stop), name="broker-watch")
    task = asyncio.create_task(work, name=process)
    await asyncio.wait({watch, task}, return_when=asyncio.FIRST_COMPLETED)
    if watch.done() and watch.exception() is not None:
        if isinstance(watch.exception(), BrokerLost):
            exit_for_restart(watch.exception(), process)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise watch.exception()
    try:
        await task
    finally:
        watch.cancel()


def install(app, settings: Settings, epoch: str, *, kafka: dict | None = None) -> None:
    """The worker's watch: a Faust task that exits the process when the broker lost its log."""

    @app.task
    async def broker_watch() -> None:
        try:
            await BrokerWatch(settings, epoch, kafka=kafka).run()
        except BrokerLost as lost:
            exit_for_restart(lost, "worker")
