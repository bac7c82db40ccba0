"""The console's live feed: tails the alerts, incidents and patrol topics from their start (Kafka is the
record) and polls the latest positions, keeps the current picture, and fans the changes out to SSE
clients in coalesced batches, so 2,000 moving devices cost one message per flush, not 2,000."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from config.settings import Settings
from schemas import json
from schemas.fields import FieldError
from schemas.records import Alert
from streams.clock import stopped_within
from streams.topics import client_options

log = logging.getLogger(__name__)

FEED_LENGTH = 200  # alerts kept for a newly opened page
CLIENT_QUEUE = 32  # flushes a client may lag behind before it is dropped (its page reconnects)
CLOSED = ("resolved", "closed")
_POSITIONS = """
SELECT device_id, lat, lng, community_id, grid_id, event_time, updated_at FROM latest_positions
WHERE updated_at > $1::timestamptz - interval '10 seconds' ORDER BY updated_at
"""


class ConsoleFeed:
    def __init__(
        self, settings: Settings, *, flush_seconds: float = 0.25, poll_seconds: float = 1.0, kafka: dict | None = None
    ):
        self.settings, self.flush_seconds, self.poll_seconds = settings, flush_seconds, poll_seconds
        self.kafka = client_options(settings, kafka)
        self.alerts: deque[dict] = deque(maxlen=FEED_LENGTH)
        self.incidents: dict[str, dict] = {}  # open incidents only
        self.patrol: dict[str, str] = {}  # device -> status
        self.positions: dict[str, list] = {}  # device -> [lat, lng, community, grid, event time]
        self.pending: dict[str, dict | list] = self._empty()
        self.clients: set[asyncio.Queue] = set()

    @staticmethod
    def _empty() -> dict:
        return {"alerts": [], "incidents": {}, "patrol": {}, "positions": {}}

    def snapshot(self) -> dict:
        return {
            "alerts": list(self.alerts),
            "incidents": list(self.incidents.values()),
            "patrol": self.patrol,
            "positions": self.positions,
        }

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=CLIENT_QUEUE)
        self.clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.clients.discard(queue)

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        async with asyncio.TaskGroup() as group:
            group.create_task(self._tail(s.topic_alerts, self.on_alert, stop))
            group.create_task(self._tail(s.topic_incidents, self.on_incident, stop))
            group.create_task(self._tail(s.topic_patrol, self.on_patrol, stop))
            group.create_task(self._poll_positions(stop))
            group.create_task(self._flush(stop))

    def on_alert(self, value: bytes) -> None:
        alert = Alert.decode(value)
        self.alerts.appendleft(alert)
        self.pending["alerts"].append(alert)

    def on_incident(self, value: bytes) -> None:
        event = json.loads(value)
        state = event.get("state")
        if not isinstance(state, dict):
            return  # an action rejected for an unknown incident: nothing to draw
        # last/when/actor/reason/action: the newest event, so the page can tell a dispatcher what the
        # engine made of an action it is still waiting for (done, or refused and why).
        summary = {
            "id": event["incident"],
            "street": event.get("street"),
            "community": event.get("community"),
            "grid": event.get("grid"),
            "category": event.get("category"),
            "severity": event.get("severity"),
            "last": event.get("kind"),
            "when": event.get("when"),
            "actor": event.get("actor"),
            "action": event.get("action"),
            "reason": (event.get("reason") or "")[:300],
            **{
                k: state.get(k)
                for k in (
                    "status",
                    "level",
                    "owner",
                    "priority",
                    "opened_at",
                    "ack_by",
                    "resolve_by",
                    "reports",
                    "missed",
                    "limits",
                    "pause",
                    "requests",
                    "remaining",
                )
            },
        }
        # The page needs the clock's extended limit only; its ended pauses can run to a thousand.
        summary["clock"] = {k: v for k, v in (state.get("clock") or {}).items() if k != "paused"}
        if summary["status"] in CLOSED:
            self.incidents.pop(summary["id"], None)
        else:
            self.incidents[summary["id"]] = summary
        self.pending["incidents"][summary["id"]] = summary

    def on_patrol(self, value: bytes) -> None:
        record = json.loads(value)
        if record.get("type") == "status" and "device" in record:
            self.patrol[record["device"]] = record["status"]
            self.pending["patrol"][record["device"]] = record["status"]

    async def _tail(self, topic: str, apply, stop: asyncio.Event) -> None:
        """Every record of the topic from its start, then live: no group, nothing committed."""
        consumer = AIOKafkaConsumer(**self.kafka, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer.topics()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            while not stop.is_set():
                for messages in (await consumer.getmany(timeout_ms=200, max_records=2000)).values():
                    for msg in messages:
                        try:
                            apply(msg.value)
                        except (FieldError, ValueError, KeyError, TypeError) as exc:
                            log.error("console: skipping %s[%d]@%d: %s", topic, msg.partition, msg.offset, exc)
        finally:
            await consumer.stop()

    async def _poll_positions(self, stop: asyncio.Event) -> None:
        since = datetime(1970, 1, 1, tzinfo=UTC)
        conn = None
        while not stop.is_set():
            try:
                conn = conn or await asyncpg.connect(self.settings.database_dsn)
                for row in await conn.fetch(_POSITIONS, since):
                    # updated_at is a transaction's start: one that started earlier may commit later,
                    # so each poll re-reads an overlap and passes on only what changed.
                    position = [
                        row["lat"],
                        row["lng"],
                        row["community_id"],
                        row["grid_id"],
                        row["event_time"].isoformat(),
                    ]
                    if self.positions.get(row["device_id"]) != position:
                        self.positions[row["device_id"]] = position
                        self.pending["positions"][row["device_id"]] = position
                    since = max(since, row["updated_at"])
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("console: positions unavailable, retrying: %s", exc)
                conn = None  # reconnect on the next round
            await stopped_within(stop, self.poll_seconds)
        if conn is not None:
            await conn.close()

    async def _flush(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await stopped_within(stop, self.flush_seconds)
            batch, self.pending = self.pending, self._empty()
            if not any(batch.values()):
                continue
            message = (batch, json.dumps(batch))  # a client cut to one street encodes its own part
            for queue in list(self.clients):
                try:
                    queue.put_nowait(message)
                except asyncio.QueueFull:
                    self.clients.discard(queue)  # too slow: dropped; its page reconnects and re-reads the snapshot
