"""Geofencing of input records: raw Kafka bytes in, located records or dead letters out.

No I/O here: the Faust agents (`streams/geofence/agents.py`) and the benchmark baseline run the same code,
so the benchmark compares transports, not two implementations.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import NamedTuple

from schemas import json
from schemas.fields import FieldError, now_rfc3339
from schemas.records import FieldReport, ping_batch
from streams.escalation.keys import IncidentKeys
from streams.geofence.registry import GridRegistry


class Output(NamedTuple):
    """One record to produce: where, under which key, what bytes."""

    topic: str
    key: bytes | None
    value: bytes
    rejected: tuple[str, ...]  # for a dead letter, the bounded reason labels, each once; () for a located record
    rekeyed: bool = False  # the key changed, so the partition must follow the new key
    events: int = 0  # reports or pings the record carries
    outside: bool = False  # a report outside every street: counted and logged, it goes to the unlocated queue


@dataclass(frozen=True)
class Topics:
    located_reports: str
    positions: str
    deadletter: str

    @classmethod
    def from_settings(cls, settings) -> Topics:
        return cls(settings.topic_located_reports, settings.topic_positions, settings.topic_deadletter)


_INDEX = re.compile(r"(?:^|(?<=\.))\d+(?=\.|$)")


def reason_label(error: FieldError) -> str:
    """A bounded metric label for an error: the field path with list indexes folded (`pings.*.lat`) and
    a key the sender made up as `(unknown)` (FieldError.label): labels must not grow with input."""
    return _INDEX.sub("*", error.label)


class Geofencer:
    """Turns raw report and ping-batch bytes into located records; bad input into dead letters."""

    def __init__(self, registry: GridRegistry, topics: Topics, max_pings: int):
        self.registry = registry
        self.topics = topics
        self.keys = IncidentKeys(registry.geometry)
        self.ping_batch = ping_batch(max_pings)

    def report(self, value: bytes, source: str, partition: int, offset: int, key: bytes | None = None) -> Output:
        try:
            report = FieldReport.decode(value)
        except FieldError as error:
            return self.dead_letter(error, value, source, partition, offset, key)
        loc = report["location"]
        place = self.registry.locate(loc["lat"], loc["lng"])
        report["street"], report["community"], report["grid"] = place.street, place.community, place.grid
        if place.courtyard is not None:
            report["courtyard"] = place.courtyard
        report["cell"] = self.registry.cell(loc["lat"], loc["lng"])
        # Keyed by street (streams/escalation/keys.py): the engine clusters a street's reports and applies
        # its actions on one partition. One outside every street goes to the unlocated queue's key.
        return Output(
            self.topics.located_reports,
            self.keys.of(place.community),
            json.dumps(report),
            (),
            rekeyed=True,
            events=1,
            outside=place.street is None,
        )

    def pings(self, value: bytes, source: str, partition: int, offset: int, key: bytes | None = None) -> Output:
        try:
            batch = self.ping_batch.decode(value)
        except FieldError as error:
            return self.dead_letter(error, value, source, partition, offset, key)
        locate = self.registry.locate
        for ping in batch["pings"]:
            place = locate(ping["lat"], ping["lng"])
            ping["street"] = place.street
            ping["community"] = place.community
            ping["grid"] = place.grid
            if place.courtyard is not None:  # absent rather than null: a lane's fix stays as short as before
                ping["courtyard"] = place.courtyard
        pings = batch["pings"]
        return Output(self.topics.positions, batch["device"].encode(), json.dumps(batch), (), events=len(pings))

    def dead_letter(
        self, error: FieldError, value: bytes, source: str, partition: int, offset: int, key: bytes | None
    ) -> Output:
        letter = {
            "reason": _storable(str(error), 1000),  # names every wrong field (FieldErrors), as `errors` lists them
            "errors": [{"field": _storable(e.field, 256), "reason": _storable(e.reason, 1000)} for e in error.each()],
            "source_topic": source,
            "partition": partition,
            "offset": offset,
            "value_b64": base64.b64encode(value or b"").decode(),
            "failed_at": now_rfc3339(),
        }
        if key is not None:
            letter["key_b64"] = base64.b64encode(key).decode()
        labels = tuple(dict.fromkeys(reason_label(e) for e in error.each()))
        return Output(self.topics.deadletter, key, json.dumps(letter), labels)


def _storable(text: str, limit: int) -> str:
    """Text a DeadLetter accepts (the sink validates letters and skips one it refuses): an unknown key may
    hold NUL, which no Postgres text can, so it becomes U+FFFD; the original bytes keep it."""
    return text.replace("\x00", "\ufffd")[:limit]
