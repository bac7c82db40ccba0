"""Load for the fault tests, remembering exactly what was accepted: the field simulator over HTTP, and
devices publishing straight to the input topics (as kcat would), which keep going while the worker is
dead. Every accepted ping is known by (device, time), every accepted report by its id."""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from config.settings import Settings
from schemas import json
from schemas.records import CATEGORIES
from streams.clock import stopped_within
from streams.demo.simulator import FieldSimulator, device_tokens
from streams.geofence.registry import GridRegistry
from tests.support import factories


@dataclass
class Accepted:
    """What the pipeline took (answered 202 or acknowledged by the broker) and what is in doubt."""

    pings: set[tuple[str, datetime]] = field(default_factory=set)
    reports: set[str] = field(default_factory=set)
    unsure_pings: set[tuple[str, datetime]] = field(default_factory=set)  # no answer: may or may not be in
    unsure_reports: set[str] = field(default_factory=set)

    def add_batch(self, batch: dict, sure: bool = True) -> None:
        keys = {(batch["device"], datetime.fromisoformat(p["time"])) for p in batch["pings"]}
        (self.pings if sure else self.unsure_pings).update(keys)

    def add_report(self, report: dict, sure: bool = True) -> None:
        (self.reports if sure else self.unsure_reports).add(report["id"])


class RecordingSimulator(FieldSimulator):
    """The field simulator, noting the fate of each request it makes."""

    def __init__(self, settings: Settings, url: str, accepted: Accepted, *, devices: int = 80, seed: int | None = None):
        # A seed of each run's own: report ids come from it, and they must not repeat an earlier test's.
        seed = random.randrange(2**32) if seed is None else seed
        super().__init__(
            GridRegistry.from_settings(settings),
            settings,
            url,
            devices=devices,
            ping_interval=0.5,
            upload_every=4,
            seed=seed,
        )
        self.accepted = accepted

    async def run(self, stop: asyncio.Event):
        self.tokens = await device_tokens(self.settings, [d.id for d in self.devices], None)
        return await super().run(stop)

    async def post(self, path: str, body, device: str):
        status = await super().post(path, body, device)
        if (status is not None and 400 <= status < 500) or path not in ("/v1/pings", "/v1/reports"):
            return status  # refused: nothing of it is kept; or a task's step (a 生脸 report's task), not counted
        add = self.accepted.add_batch if path == "/v1/pings" else self.accepted.add_report
        add(body, status == 202)
        return status


class KafkaDevices:
    """`devices` phones publishing a ping batch each per `interval` seconds, and reports now and then,
    straight to the input topics; only what the broker acknowledged counts as accepted."""

    def __init__(
        self,
        settings: Settings,
        accepted: Accepted,
        *,
        devices: int = 40,
        pings: int = 25,
        interval: float = 1.0,
        report_share: float = 0.15,
        seed: int | None = None,
    ):
        self.settings, self.accepted = settings, accepted
        self.rng = random.Random(seed)
        run = uuid.uuid4().hex[:6]
        self.devices = [(f"kc-{run}-{i:03d}", factories.random_point(self.rng)) for i in range(devices)]
        self.pings, self.interval, self.report_share = pings, interval, report_share
        self.start = datetime.now(UTC)
        self.sent = 0

    async def run(self, stop: asyncio.Event) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.broker, linger_ms=5, request_timeout_ms=5000)
        await producer.start()
        try:
            while not stop.is_set():
                await asyncio.gather(*(self._publish(producer, d) for d in self.devices))
                self.sent += 1
                await stopped_within(stop, self.interval)
        finally:
            await producer.stop()

    async def _publish(self, producer: AIOKafkaProducer, device: tuple[str, tuple[float, float]]) -> None:
        name, (lat, lng) = device
        first = self.start + timedelta(milliseconds=10 * self.pings * self.sent)
        batch = {
            "device": name,
            "pings": [
                {"lat": lat, "lng": lng, "accuracy": 5.0, "time": (first + timedelta(milliseconds=10 * i)).isoformat()}
                for i in range(self.pings)
            ],
        }
        await self._send(producer, self.settings.topic_pings, name, batch, self.accepted.add_batch)
        if self.rng.random() < self.report_share:
            report = {
                "id": str(uuid.UUID(int=self.rng.getrandbits(128))),
                "device": name,
                "category": self.rng.choice(CATEGORIES),
                "severity": self.rng.choice(["low", "medium", "high"]),
                "text": "巡查发现 / patrol finding",
                "location": {"lat": lat, "lng": lng, "accuracy": 5.0},
                "event_time": datetime.now(UTC).isoformat(),
            }
            await self._send(producer, self.settings.topic_reports, name, report, self.accepted.add_report)

    @staticmethod
    async def _send(producer, topic: str, key: str, value: dict, note) -> None:
        try:
            await (await producer.send(topic, json.dumps(value), key=key.encode()))
        except KafkaError:
            note(value, False)  # the broker may have written it before the error: in doubt, not lost
            return
        note(value, True)
