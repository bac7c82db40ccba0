"""Dead letters of the geofencer: a record with several wrong fields names them all, and the letter is one
the sink stores (a DeadLetter that validates), however hostile the record."""

from __future__ import annotations

import base64

import pytest

from config.settings import Settings
from schemas import json
from schemas.fields import MAX_ERRORS
from schemas.records import DeadLetter
from streams.geofence.geofencer import Geofencer, Topics
from streams.geofence.registry import GridRegistry


@pytest.fixture(scope="module")
def geofencer() -> Geofencer:
    return Geofencer(GridRegistry.from_settings(Settings()), Topics("located", "positions", "dead"), 1000)


def letter(out) -> dict:
    assert out.topic == "dead"
    return DeadLetter.validate(json.loads(out.value))  # what the sink checks before it stores a letter


def test_a_report_with_several_wrong_fields_names_every_one(geofencer):
    raw = json.dumps(
        {
            "id": "r 1",
            "device": "dev-1",
            "category": "apocalypse",
            "severity": "low",
            "text": "x",
            "location": {"lat": 91, "lng": 116.37},
            "colour": "red",
        }
    )
    out = geofencer.report(raw, "reports", 2, 40, b"dev-1")
    dead = letter(out)
    assert [e["field"] for e in dead["errors"]] == ["id", "category", "location.lat", "colour", "event_time"]
    for error in dead["errors"]:
        assert f"{error['field']}: {error['reason']}" in dead["reason"]
    assert out.rejected == ("id", "category", "location.lat", "(unknown)", "event_time")
    assert base64.b64decode(dead["value_b64"]) == raw and (dead["partition"], dead["offset"]) == (2, 40)


def test_a_ping_batch_wrong_everywhere_gives_a_bounded_letter_the_sink_takes(geofencer):
    pings = [{"lat": 91, "lng": 181, "accuracy": -1, "time": "soon", "": 1}] * 1000
    out = geofencer.pings(json.dumps({"device": "dev-1", "pings": pings}), "pings", 0, 7)
    dead = letter(out)
    assert len(dead["errors"]) == MAX_ERRORS and len(dead["reason"]) <= 1000
    assert dead["errors"][4] == {"field": 'pings.0.""', "reason": "is not a known field"}  # an empty key, named
    assert out.rejected == ("pings.*.lat", "pings.*.lng", "pings.*.accuracy", "pings.*.time", "pings.*.(unknown)")
