"""Delivery consumers: one consumer group per channel, so a slow or dead endpoint holds back only its
own channel. Offsets are committed only past alerts whose first notice is recorded as delivered or
dead-lettered; a notification in flight when a worker died is resent under the same idempotency key."""

from __future__ import annotations

import asyncio
import base64
import collections
import dataclasses
import logging
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Histogram

from config.routing import Channel, Routing
from config.settings import Settings
from consumers.batch import backoff
from consumers.routing import Notification, Router
from schemas import json
from schemas.fields import FieldError
from schemas.records import Alert, DeadLetter
from sinks.delivery_log import DeliveryLog
from sinks.postgres import SinkUnavailable
from sinks.webhook import Webhook
from streams.clock import Clock, SystemClock, stopped_within
from streams.produce import Out, send_all
from streams.topics import client_options, read_topic

log = logging.getLogger(__name__)

GROUP_PREFIX = "redwall-deliver"
MAX_WAIT_SECONDS = 0.5  # longest a consumer sleeps in a fetch while a group may come due
RETRY_CAP_SECONDS = 10.0
WHERE_LIMIT = 10_000
MAX_CONCURRENT_SENDS = 32  # per channel: a robot rate-limits bursts anyway
SETTLED = ("acknowledged", "resolved", "closed")  # incident statuses after which nobody is reminded


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.attempts = Counter(
            "redwall_alerts_delivered",
            "delivery attempts per alert, by outcome",
            ["channel", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "redwall_alert_delivery_seconds",
            "duration of one delivery attempt",
            ["channel"],
            registry=registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )


class ChannelConsumer:
    """Reads every alert (and incident changes, which end reminders), routes them with its own Router,
    and delivers what is due to one channel."""

    def __init__(
        self,
        settings: Settings,
        routing: Routing,
        channel: Channel,
        sender: Webhook,
        log_: DeliveryLog,
        producer: AIOKafkaProducer,
        metrics: DeliveryMetrics,
        *,
        clock: Clock = SystemClock(),
        group_prefix: str = GROUP_PREFIX,
        kafka: dict | None = None,
    ):
        self.settings, self.channel, self.sender, self.log = settings, channel, sender, log_
        self.kafka = client_options(settings, kafka)
        self.producer, self.metrics, self.group_id = producer, metrics, f"{group_prefix}-{channel.name}"
        self.router = Router(routing, channel.name, clock)
        self.clock = clock
        self.where: dict[str, tuple[int, int]] = {}  # alert id -> (partition, offset), for dead letters
        self.pending: dict[TopicPartition, dict[str, int]] = {}  # first notice not yet recorded
        self.next_offset: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}
        # Alert ids whose notification is being delivered, in background tasks so that one slow
        # endpoint call never holds back the channel's other groups and partitions. An id leaves only
        # once its outcome is recorded; one whose delivery was cut short keeps its offset uncommitted.
        self.in_flight: collections.Counter[str] = collections.Counter()
        self.tasks: set[asyncio.Task] = set()
        self.sending_now: dict[str, asyncio.Task] = {}  # alert id -> the latest task delivering it
        self.sending = asyncio.Semaphore(MAX_CONCURRENT_SENDS)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            self.settings.topic_alerts,
            self.settings.topic_incidents,
            **self.kafka,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(self.settings.kafka_session_seconds * 1000),
            heartbeat_interval_ms=int(self.settings.kafka_heartbeat_seconds * 1000),
        )
        await consumer.start()
        try:
            await self._rebuild(stop)
            in_flight = await self._durably(self.log.in_flight, self.channel.name, stop=stop) or []
            for found in in_flight:
                self.where.update(found.where)
            await asyncio.gather(*(self._attempts(found.notification, stop) for found in in_flight))
            while not stop.is_set():
                fetched = await consumer.getmany(timeout_ms=self._wait_ms(), max_records=500)
                self._offer(fetched)
                for notification in self.router.due():
                    self._spawn(notification, stop)
                await self._commit(consumer)
        finally:
            await asyncio.gather(*self.tasks)  # they see `stop` and return; unrecorded ones stay uncommitted
            await consumer.stop()

    async def _rebuild(self, stop: asyncio.Event) -> None:
        """Reminders survive a restart: the topics replayed from their start say what still fires
        (and what inhibits it), the delivery log how often and when this channel last told anyone."""
        notified = await self._durably(self.log.notified, self.channel.name, stop=stop)
        if not notified:
            return  # nothing was ever notified here: nothing to remind about
        async for msg in read_topic(self.settings, self.settings.topic_alerts, kafka=self.kafka):
            try:
                alert = Alert.decode(msg.value)
            except FieldError:
                continue  # logged when the live consumer reads it
            if alert["status"] == "resolved":
                # A clearance this channel already took only clears; one it has not is said now.
                self.router.clear(alert) if alert["id"] in notified else self.router.offer(alert)
            elif alert["id"] in notified:
                self.router.restore(alert, *notified[alert["id"]])
            else:
                self.router.note_source(alert)
        async for msg in read_topic(self.settings, self.settings.topic_incidents, kafka=self.kafka):
            self._settle(msg.value)
        log.info(
            "%s: %d alerts restored for reminders",
            self.channel.name,
            sum(len(g.firing) for g in self.router.groups.values()),
        )

    def _spawn(self, notification: Notification, stop: asyncio.Event) -> None:
        ids = [a["id"] for a in notification.alerts]
        self.in_flight.update(ids)
        # A notice read twice (a restarted worker publishes its alert again) may come due while the first is
        # still being sent: it waits for that one, then finds it in the log and is never sent again.
        earlier = {self.sending_now[i] for i in ids if i in self.sending_now}
        task = asyncio.create_task(self._deliver(notification, stop, after=earlier))
        self.tasks.add(task)
        self.sending_now.update(dict.fromkeys(ids, task))

        def finished(task: asyncio.Task) -> None:
            self.tasks.discard(task)
            for i in ids:
                if self.sending_now.get(i) is task:
                    del self.sending_now[i]
            if task.cancelled() or task.exception() is not None or not task.result():
                if not task.cancelled() and task.exception() is not None:
                    log.error(
                        "%s: delivery of %s failed", self.channel.name, notification.key, exc_info=task.exception()
                    )
                return
            self.in_flight.subtract(ids)
            self.in_flight = +self.in_flight  # drops the ids that reached zero

        task.add_done_callback(finished)

    def _wait_ms(self) -> int:
        due = self.router.next_due()
        seconds = MAX_WAIT_SECONDS if due is None else (due - self.clock.now()).total_seconds()
        return int(max(0.0, min(MAX_WAIT_SECONDS, seconds)) * 1000)

    def _offer(self, fetched) -> None:
        for tp, messages in fetched.items():
            for msg in messages:
                self.next_offset[tp] = msg.offset + 1
                if tp.topic == self.settings.topic_incidents:
                    self._settle(msg.value)
                    continue
                try:
                    alert = Alert.decode(msg.value)
                except FieldError as exc:
                    log.error(
                        "%s: skipping undecodable alert %s[%d]@%d: %s",
                        self.group_id,
                        tp.topic,
                        tp.partition,
                        msg.offset,
                        exc,
                    )
                    continue
                self.where[alert["id"]] = (tp.partition, msg.offset)
                if self.router.offer(alert):
                    self.pending.setdefault(tp, {}).setdefault(alert["id"], msg.offset)

    def _settle(self, value: bytes) -> None:
        """An incident someone acknowledged, resolved or closed stops reminding (alerts carry no such news)."""
        try:
            event = json.loads(value)
        except json.JSONDecodeError:
            return  # the incidents sink logs and dead-letters its own bad records
        state = event.get("state") if isinstance(event, dict) else None
        if isinstance(state, dict) and state.get("status") in SETTLED and isinstance(event.get("incident"), str):
            self.router.settle(event["incident"])

    async def _deliver(
        self, notification: Notification, stop: asyncio.Event, after: set[asyncio.Task] = frozenset()
    ) -> bool:
        """True once every alert of it has a recorded outcome on this channel; begun once the deliveries
        `after` (of the same alerts) have ended."""
        if after:
            await asyncio.wait(after)
        finished = await self._durably(self.log.finished, self.channel.name, notification.items, stop=stop)
        if finished is None:
            return False  # stopping: nothing was sent, the offsets stay uncommitted
        items = tuple(i for i in notification.items if (i[0]["id"], i[1]) not in finished)
        if not items:
            return True  # already acknowledged by this endpoint: never sent again
        return await self._attempts(dataclasses.replace(notification, items=items), stop)

    async def _attempts(self, n: Notification, stop: asyncio.Event) -> bool:
        done = await self._durably(self.log.begin, n, self.where, stop=stop)
        if done is None:
            return False
        for attempt_no in range(done + 1, self.channel.attempts + 1):
            async with self.sending:
                attempt = await self.sender.send(n)
            if await self._durably(self.log.record, n, attempt_no, attempt, stop=stop) is None:
                return False
            self.metrics.attempts.labels(self.channel.name, attempt.outcome).inc(len(n.items))
            self.metrics.seconds.labels(self.channel.name).observe(attempt.latency)
            if attempt.ok:
                return True
            log.warning("%s: attempt %d of %s failed: %s", self.channel.name, attempt_no, n.key, attempt.error)
            if attempt_no < self.channel.attempts and await stopped_within(
                stop, backoff(attempt_no, RETRY_CAP_SECONDS)
            ):
                return False
        return await self._dead_letter(n, max(done, self.channel.attempts), stop)

    async def _dead_letter(self, n: Notification, attempts: int, stop: asyncio.Event) -> bool:
        """To the alerts' dead-letter topic first, then the log: a crash in between repeats the letter, not loses it."""
        history = await self._durably(self.log.attempts, n.key, stop=stop) or []
        errors = [
            {"field": f"attempt {h['attempt']}", "reason": f"{h['outcome']}: {h['error'] or h['status_code']}"}
            for h in history
        ]
        reason = f"channel {self.channel.name} ({self.channel.type}): not delivered after {attempts} attempts"
        letters = []
        for alert in n.alerts:
            partition, offset = self.where.get(alert["id"], (0, 0))
            letter = DeadLetter.validate(
                {
                    "reason": reason,
                    "errors": errors,
                    "source_topic": self.settings.topic_alerts,
                    "partition": partition,
                    "offset": offset,
                    "key_b64": base64.b64encode(self.channel.name.encode()).decode(),
                    "value_b64": base64.b64encode(json.dumps(alert)).decode(),
                    "failed_at": datetime.now(UTC).isoformat(),
                }
            )
            letters.append(Out(self.settings.topic_alerts_deadletter, alert["id"].encode(), json.dumps(letter)))
        await send_all(self.producer, letters)
        if await self._durably(self.log.dead_lettered, n, attempts + 1, reason, stop=stop) is None:
            return False
        self.metrics.attempts.labels(self.channel.name, "dead_lettered").inc(len(n.items))
        log.error("%s: dead-lettered %s (%d alerts)", self.channel.name, n.key, len(n.items))
        return True

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        still = self.router.pending() | set(self.in_flight)
        for offsets in self.pending.values():  # delivered, dead-lettered, or dropped unsent (resolved first)
            for alert_id in [i for i in offsets if i not in still]:
                del offsets[alert_id]
        if len(self.where) > WHERE_LIMIT:  # keep positions only of alerts that may still be dead-lettered
            firing = {i for g in self.router.groups.values() for i in g.firing} | still
            self.where = {i: w for i, w in self.where.items() if i in firing}
        assigned = consumer.assignment()
        offsets = {
            tp: min(self.pending.get(tp, {}).values(), default=end)
            for tp, end in self.next_offset.items()
            if tp in assigned
        }
        offsets = {tp: o for tp, o in offsets.items() if self.committed.get(tp) != o}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
            self.committed.update(offsets)
        except KafkaError as exc:
            log.warning(
                "%s: commit of %s failed; the alerts will be re-read and skipped: %s", self.group_id, offsets, exc
            )

    async def _durably(self, write, *args, stop: asyncio.Event):
        """Run a delivery-log call, retrying while Postgres is unavailable; None if stopped first."""
        attempt = 0
        while True:
            try:
                result = await write(*args)
                return True if result is None else result
            except SinkUnavailable as exc:
                attempt += 1
                log.warning("%s: delivery log unavailable (attempt %d): %s", self.channel.name, attempt, exc)
                if await stopped_within(stop, backoff(attempt)):
                    return None
