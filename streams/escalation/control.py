"""Control records for the escalation engine, sent to every partition of redwall.actions.v1 so that
every worker and every partition sees them: major-event periods from the CLI, and simulated-time ticks.
The sink keeps the periods in PostgreSQL (sinks/major_events.py), where a worker's rebuild finds them
after the topic has dropped the record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from config.major_events import Period
from config.settings import Settings
from schemas import json
from schemas.fields import FieldError
from schemas.records import EngineControl
from streams.produce import Out, producing, send_all
from streams.topics import client_options


def major_event(
    period_id: str, hours: float, factor: float, name: str | None = None, now: datetime | None = None
) -> dict:
    """The control record that puts a period in force from `now` for `hours`."""
    now = now or datetime.now(UTC)
    return EngineControl.validate(
        {
            "control": "major_event",
            "time": now.isoformat(),
            "period": {
                "id": period_id,
                "name": name or period_id,
                "start": now.isoformat(),
                "end": (now + timedelta(hours=hours)).isoformat(),
                "deadline_factor": factor,
            },
        }
    )


def tick(when: datetime) -> dict:
    """Simulated time moves to `when` (honoured only by workers with REDWALL_CLOCK=event)."""
    return EngineControl.validate({"control": "tick", "time": when.isoformat()})


async def broadcast(settings: Settings, record: dict, *, kafka: dict | None = None) -> int:
    """Send one control record to each partition of the actions topic; returns how many partitions."""
    async with producing(client_options(settings, kafka)) as producer:
        partitions = await producer.partitions_for(settings.topic_actions)
        value = json.dumps(EngineControl.validate(record))
        await send_all(producer, [Out(settings.topic_actions, None, value, p) for p in partitions])
        return len(partitions)


def control_record(value: dict) -> dict:
    """A valid EngineControl; FieldError (so a dead letter) for a major_event without its period."""
    record = EngineControl.validate(value)
    if record["control"] == "major_event" and "period" not in record:
        raise FieldError("period", "is required when control is major_event")
    return record


def period_of(raw: dict) -> Period:
    """The Period a major_event control record (or a stored one) puts in force."""
    return Period(
        raw["id"],
        raw["name"],
        datetime.fromisoformat(raw["start"]),
        datetime.fromisoformat(raw["end"]),
        raw["deadline_factor"],
    )


class MajorEventRecords:
    """The sink's decoder for the actions topic: the major_event control records; None for the rest
    (actions, ticks, and what the worker refused and dead-lettered), which that sink does not keep."""

    name = "EngineControl"

    def decode(self, data: bytes | None) -> dict | None:
        # Cheap pre-filter: people's actions are the bulk of the topic.
        if not data or b'"major_event"' not in data:
            return None
        try:
            value = json.loads(data)
            return control_record(value) if isinstance(value, dict) and value.get("control") == "major_event" else None
        except (json.JSONDecodeError, FieldError):
            return None
