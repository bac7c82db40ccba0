"""The engine's verdict on an action, for the worker that took the action over HTTP.

The engine publishes every transition to redwall.incidents.v1 with the id of the action that caused it
(an `action_rejected` event too), from whichever worker owns the incident's partition. So every worker
tails that topic, every partition, with no consumer group, from its end at start, and an event naming an
action resolves whoever waits for that action here.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from schemas import json
from streams.escalation.agents import FETCH_MAX_WAIT_MS
from streams.topics import client_options

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (incident, action id): action ids are the client's, so the incident keeps them apart
RETRY_SECONDS = 2.0


class Verdicts:
    """Who waits for which action's verdict, and the verdicts seen lately: the engine says nothing about an
    action id it has applied before, so a client's retry is answered from here."""

    def __init__(self, remember: int = 10_000):
        self.remember = remember
        self._waiting: dict[Key, list[asyncio.Future]] = {}
        self._recent: OrderedDict[Key, dict] = OrderedDict()

    def known(self, incident: str, action: str) -> dict | None:
        return self._recent.get((incident, action))

    async def wait(self, incident: str, action: str, seconds: float, send) -> dict | None:
        """Await `send()` (the action reaching the broker), then the engine's event for the action for up
        to `seconds`; None if it does not come in time. The waiter is in place before the send, so an
        event that comes back at once is not missed."""
        key, future = (incident, action), asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        try:
            await send()
            return await asyncio.wait_for(future, seconds)
        except TimeoutError:
            return None
        finally:
            self._forget(key, future)

    def observe(self, event: dict) -> None:
        """An incident event off the topic: resolve the waiters of its action, and remember it."""
        incident, action = event.get("incident"), event.get("action")
        if not isinstance(incident, str) or not isinstance(action, str):
            return
        key = (incident, action)
        self._recent.setdefault(key, event)  # the first event an action caused is its verdict
        while len(self._recent) > self.remember:
            self._recent.popitem(last=False)
        for future in self._waiting.pop(key, ()):
            if not future.done():
                future.set_result(self._recent[key])

    def _forget(self, key: Key, future: asyncio.Future) -> None:
        waiting = self._waiting.get(key, [])
        if future in waiting:
            waiting.remove(future)
        if not waiting:
            self._waiting.pop(key, None)


async def tail(settings, verdicts: Verdicts, kafka: dict | None = None) -> None:
    """Feed `verdicts` from the incidents topic until cancelled; a broker error is retried (a broker that
    lost its log ends the worker anyway: streams/broker_epoch.py)."""
    while True:
        try:
            await _tail_once(settings, verdicts, client_options(settings, kafka))
        except KafkaError as error:
            log.warning(
                "verdicts: reading %s failed (%s); again in %.0f s", settings.topic_incidents, error, RETRY_SECONDS
            )
            await asyncio.sleep(RETRY_SECONDS)


async def _tail_once(settings, verdicts: Verdicts, kafka: dict) -> None:
    # A short fetch wait: Tansu does not answer a waiting fetch when data arrives (streams/escalation/agents.py).
    consumer = AIOKafkaConsumer(**kafka, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
    await consumer.start()
    try:
        await consumer.topics()  # metadata: a new consumer knows no partitions before it
        topic = settings.topic_incidents
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        while True:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                for record in records:
                    # Most events have no action (reports, deadlines); only parse those that may.
                    if record.value and b'"action"' in record.value:
                        _observe(verdicts, record.value)
    finally:
        await consumer.stop()


def _observe(verdicts: Verdicts, value: bytes) -> None:
    try:
        event = json.loads(value)
    except json.JSONDecodeError:
        return  # the engine writes this topic; a broken record is nobody's verdict
    if isinstance(event, dict):
        verdicts.observe(event)
