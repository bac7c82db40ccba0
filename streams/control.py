"""Control records for the escalation engine, sent to every partition of redwall.actions.v1 so that
every worker and every partition sees them: major-event periods from the CLI, and simulated-time ticks."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from aiokafka import AIOKafkaProducer

from config.kafka_security import kafka_options
from config.settings import Settings
from schemas import json
from schemas.records import EngineControl


def major_event(period_id: str, hours: float, factor: float, name: str | None = None,
                now: datetime | None = None) -> dict:
    """The control record that puts a period in force from `now` for `hours`."""
    now = now or datetime.now(timezone.utc)
    return EngineControl.validate({
        "control": "major_event", "time": now.isoformat(),
        "period": {"id": period_id, "name": name or period_id, "start": now.isoformat(),
                   "end": (now + timedelta(hours=hours)).isoformat(), "deadline_factor": factor},
    })


def tick(when: datetime) -> dict:
    """Simulated time moves to `when` (honoured only by workers with REDWALL_CLOCK=event)."""
    return EngineControl.validate({"control": "tick", "time": when.isoformat()})


async def broadcast(settings: Settings, record: dict) -> int:
    """Send one control record to each partition of the actions topic; returns how many partitions."""
    producer = AIOKafkaProducer(**kafka_options(settings))
    await producer.start()
    try:
        partitions = await producer.partitions_for(settings.topic_actions)
        value = json.dumps(EngineControl.validate(record))
        await asyncio.gather(*[await producer.send(settings.topic_actions, value, partition=p) for p in partitions])
        return len(partitions)
    finally:
        await producer.stop()
