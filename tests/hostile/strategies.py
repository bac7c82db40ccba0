"""Hypothesis strategies for hostile input: near-valid records (one thing wrong, or nothing) and garbage.

A near-valid record starts from a valid one and changes one field to an arbitrary JSON value, drops
one, adds an unknown one, or stays valid with hostile text; the record's own validator then says
which it is, so the tests know what must be refused and what must arrive.
"""

from __future__ import annotations

import json as stdjson
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from schemas.records import ACTIONS, CATEGORIES, SEVERITIES

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
# Text as phones send it: any Unicode (CJK, emoji, RTL marks, combining signs), SQL and shell metacharacters.
hostile_text = st.text(max_size=300) | st.sampled_from(
    [
        "'; DROP TABLE reports; --",
        "$$; DELETE FROM reports; $$",
        "\\'\\\\\\x00",
        "%s %(x)s $1 ::text",
        "Robert'); DROP TABLE incident_events;--",
        "\u202egnp.exe",
        "👩‍👩‍👧‍👦" * 50,
        "網格" * 2000,
    ]
)


def now() -> str:
    return datetime.now(UTC).isoformat()


# Mostly near now: the ingest API refuses event times far from the server's clock (streams/http/limits.py).
times = st.one_of(
    st.timedeltas(timedelta(days=-2), timedelta(hours=1)).map(lambda d: (datetime.now(UTC) + d).isoformat()),
    st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 30), timezones=st.timezones()).map(datetime.isoformat),
    st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
) | st.sampled_from(
    [
        "2026-11-28T09:30:00+08:00",
        "2026-11-28T01:30:00Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-12:00",
        "2026-11-28",
        "2026-11-28T09:30:00",
        "yesterday",
    ]
)
lats = st.floats(39.89, 39.93) | st.floats(allow_nan=False) | st.integers(-1000, 1000)
lngs = st.floats(116.35, 116.405) | st.floats(allow_nan=False) | st.integers(-1000, 1000)


@st.composite
def mutated(draw, base: dict, fields: dict[str, st.SearchStrategy]) -> dict:
    """`base` with its fields redrawn from `fields` (mostly valid values), then at most one thing broken."""
    value = dict(base)
    for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True)):
        value[key] = draw(fields[key])
    change = draw(st.sampled_from(["none", "none", "drop", "unknown", "replace"]))
    if change == "drop":
        value.pop(draw(st.sampled_from(sorted(value))))
    elif change == "unknown":
        value[draw(st.text(min_size=1, max_size=20).filter(lambda k: k not in base))] = draw(json_values)
    elif change == "replace":
        value[draw(st.sampled_from(sorted(value)))] = draw(json_values)
    return value


def report_fields() -> dict[str, st.SearchStrategy]:
    return {
        "category": st.sampled_from(CATEGORIES) | st.text(max_size=20),
        "severity": st.sampled_from(SEVERITIES) | st.text(max_size=20),
        "text": hostile_text,
        "location": st.fixed_dictionaries(
            {"lat": lats, "lng": lngs}, optional={"accuracy": st.floats(0, 100_000) | json_scalars}
        ),
        "event_time": times,
        "photos": st.lists(hostile_text, max_size=11) | json_values,
    }


def reports(run: str, device: str) -> st.SearchStrategy[dict]:
    """Near-valid FieldReports of one device; ids are unique per draw, so a valid one must arrive."""

    def base(n: int) -> dict:
        return {
            "id": f"{run}-{n}",
            "device": device,
            "category": "sanitation",
            "severity": "low",
            "text": "楼道堆物",
            "location": {"lat": 39.91, "lng": 116.37},
            "event_time": now(),
        }

    return st.integers(0, 2**62).flatmap(lambda n: mutated(base(n), report_fields()))


def ping_fields() -> dict[str, st.SearchStrategy]:
    return {
        "lat": lats,
        "lng": lngs,
        "accuracy": st.floats(0, 100_000) | json_scalars,
        "time": times,
        "speed": st.floats(0, 1000) | json_scalars,
        "heading": st.floats(0, 360) | json_scalars,
        "battery": st.floats(0, 100) | json_scalars,
    }


def ping_batches(device: str) -> st.SearchStrategy[dict]:
    """Near-valid PingBatches of one device: each ping near-valid, the batch itself too."""
    ping = st.builds(now).flatmap(
        lambda t: mutated({"lat": 39.91, "lng": 116.37, "accuracy": 5.0, "time": t}, ping_fields())
    )
    batch = st.fixed_dictionaries({"device": st.just(device), "pings": st.lists(ping, min_size=1, max_size=5)})
    return batch.flatmap(lambda b: mutated(b, {"pings": st.lists(ping, max_size=3) | json_values}))


def actions(run: str) -> st.SearchStrategy[dict]:
    """Near-valid IncidentActions on incidents nobody has opened (the engine rejects them, in the audit trail)."""

    def base(n: int) -> dict:
        return {
            "id": f"{run}-{n}",
            "incident": f"inc-c01-{n % 16**12:012x}",
            "action": "ack",
            "actor": "c01-wang",
            "reason": "on my way",
            "time": "2026-11-28T09:30:00+08:00",
        }

    fields = {
        "action": st.sampled_from(ACTIONS) | st.text(max_size=20),
        "actor": hostile_text,
        "reason": hostile_text,
        "time": times,
        "owner": hostile_text,
        "duplicate_of": st.text(max_size=140),
    }
    return st.integers(0, 2**62).flatmap(lambda n: mutated(base(n), fields))


def controls() -> st.SearchStrategy[dict]:
    """Near-valid control records of redwall.actions.v1 (a valid one is a harmless tick: a period needs five
    fields no draw of `json_values` makes)."""
    fields = {
        "control": st.sampled_from(["tick", "major_event"]) | st.text(max_size=12),
        "time": times,
        "period": json_values,
    }
    return st.builds(now).flatmap(lambda t: mutated({"control": "tick", "time": t}, fields))


def raw(near_valid: st.SearchStrategy[dict]) -> st.SearchStrategy[bytes]:
    """Kafka values: near-valid records as JSON, arbitrary JSON, JSON cut short, and arbitrary bytes."""
    encoded = near_valid.map(encode)
    return st.one_of(
        encoded,
        encoded,
        json_values.map(encode),
        st.tuples(encoded, st.integers(0, 200)).map(lambda t: t[0][: t[1]]),
        st.binary(max_size=200),
    )


def encode(value) -> bytes:
    """JSON by the standard library, not the server's orjson: integers beyond 64 bits, escapes as it likes."""
    return stdjson.dumps(value, ensure_ascii=False).encode()


def instant(text: str) -> datetime:
    """An RFC 3339 time as the UTC instant Postgres stores."""
    return datetime.fromisoformat(text).astimezone(UTC)
