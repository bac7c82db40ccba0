"""Hypothesis-generated raw bytes on each input topic, between valid records: every malformed record is a
dead letter with its reason and original bytes, every valid one arrives in Postgres, the worker lives."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from schemas import json
from schemas.fields import FieldError
from schemas.records import FieldReport, IncidentAction, ping_batch
from sinks.partitions import Window
from streams.escalation.agents import control_record
from streams.topics import produce_records
from tests.hostile import strategies
from tests.hostile.dead_letters import expect_dead_letters
from tests.hostile.strategies import encode
from tests.support import factories
from tests.support.rows import wait_for

pytestmark = pytest.mark.integration

EXAMPLES = 150
ACTIONS_KEY = b"hostile-actions"  # the restart test acts on the partition holding the hostile actions


def draw(strategy, examples: int = EXAMPLES) -> list[bytes | None]:
    """`examples` values of a strategy, reproducibly (hypothesis as a generator: nothing to shrink here),
    and a null value (a tombstone, as `kcat -Z` sends)."""
    drawn = []

    @hsettings(
        max_examples=examples, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(strategy)
    def collect(value):
        drawn.append(value)

    collect()
    return drawn + [None]


def with_nul_key(value: bytes) -> bytes:
    """A valid record plus a key holding NUL: its dead letter once failed the sink's check and was lost."""
    return encode({**json.loads(value), "evil\x00key": 1})


def valid(decode, value: bytes) -> bool:
    try:
        decode(value)
    except FieldError:
        return False
    return True


def interleave(hostile: list[bytes], good: list[bytes]) -> list[bytes]:
    """One valid record before each hostile one and the rest after: valid records sent around them."""
    mixed = []
    for i, value in enumerate(hostile):
        mixed.extend(good[i : i + 1] + [value])
    return mixed + good[len(hostile) :]


async def expect_dead_letter_rows(pg, key: bytes, refused: list[bytes | None]) -> None:
    """The sink stores each dead letter once (a row per refused record), with its original bytes."""
    query = "SELECT count(*) FROM dead_letters WHERE key = $1"
    await wait_for(pg, query, [key], len(refused))
    payloads = [bytes(r["payload"]) for r in await pg.fetch("SELECT payload FROM dead_letters WHERE key = $1", key)]
    assert sorted(payloads) == sorted(v or b"" for v in refused)


async def test_raw_reports_topic(settings, api, pg):
    rng = random.Random(81)
    run = f"tr{rng.randrange(10**6)}"
    hostile = draw(strategies.raw(strategies.reports(run, f"{run}-dev")))
    good = [encode(factories.report(rng, f"{run}-dev")) for _ in range(EXAMPLES // 3)]
    hostile.append(with_nul_key(good[0]))
    key = f"{run}-key".encode()
    await produce_records(settings, settings.topic_reports, [(key, v) for v in interleave(hostile, good)])

    accepted = {FieldReport.decode(v)["id"] for v in hostile + good if valid(FieldReport.decode, v)}
    refused = [v for v in hostile if not valid(FieldReport.decode, v)]
    assert len(accepted) > len(good) and refused
    await expect_dead_letters(settings, api, settings.topic_reports, key, refused)
    await expect_dead_letter_rows(pg, key, refused)
    await wait_for(pg, "SELECT count(*) FROM reports WHERE id = ANY($1)", [list(accepted)], len(accepted))
    stored = {r["id"] for r in await pg.fetch("SELECT id FROM reports WHERE id = ANY($1)", list(accepted))}
    assert stored == accepted


async def test_raw_pings_topic(settings, api, pg):
    rng = random.Random(82)
    run = f"tp{rng.randrange(10**6)}"
    record = ping_batch(settings.max_pings_per_batch)
    hostile = draw(strategies.raw(strategies.ping_batches(f"{run}-fuzz")))
    good = [encode(factories.ping_batch(rng, f"{run}-{i:03d}", 3)) for i in range(EXAMPLES // 3)]
    hostile.append(with_nul_key(good[0]))
    key = f"{run}-key".encode()
    await produce_records(settings, settings.topic_pings, [(key, v) for v in interleave(hostile, good)])

    refused = [v for v in hostile if not valid(record.decode, v)]
    assert refused
    await expect_dead_letters(settings, api, settings.topic_pings, key, refused)
    await expect_dead_letter_rows(pg, key, refused)
    fixes = {(b["device"], p["time"]) for v in good for b in [json.loads(v)] for p in b["pings"]}
    devices = sorted({d for d, _ in fixes})
    assert await wait_for(pg, "SELECT count(*) FROM positions WHERE device_id = ANY($1)", [devices], len(fixes)) == len(
        fixes
    )
    fuzzed = [record.decode(v) for v in hostile if valid(record.decode, v)]
    assert fuzzed  # near-valid batches that passed: each of their fixes in the retention window is stored
    window = Window.at(datetime.now(UTC), settings.position_retention_days, settings.position_days_ahead)
    times = {
        t
        for b in fuzzed
        for t in map(strategies.instant, (p["time"] for p in b["pings"]))
        if window.first <= t.date() <= window.last
    }
    stored = await wait_for(
        pg, "SELECT count(DISTINCT event_time) FROM positions WHERE device_id = $1", [f"{run}-fuzz"], len(times)
    )
    assert stored == len(times)


def action_or_control(value: bytes) -> dict:
    """How the escalation agent reads redwall.actions.v1: a control record, or an action."""
    try:
        record = json.loads(value)
    except json.JSONDecodeError as exc:
        raise FieldError("(body)", f"is not valid JSON: {exc}") from None
    if isinstance(record, dict) and "control" in record:
        return control_record(record)
    return IncidentAction.validate(record)


async def test_raw_actions_topic(settings, api, pg):
    rng = random.Random(83)
    run = f"ta{rng.randrange(10**6)}"
    # Found by these tests once, kept as examples: a major_event without its period crashed the agent.
    hostile = draw(strategies.raw(strategies.actions(run) | strategies.controls())) + [
        encode({"control": "major_event", "time": strategies.now()})
    ]
    # The longest ids the record allows: the audit trail's event id joins both.
    longest = {
        "id": f"{run}-" + "x" * (63 - len(run)),
        "incident": "inc-" + "c" * 111 + "-0123456789ab",
        "action": "ack",
        "actor": "c01-wang",
        "reason": "longest ids",
        "time": "2026-11-28T09:30:00Z",
    }
    good = [
        encode(
            {
                "id": f"{run}-good-{i}",
                "incident": f"inc-c0{1 + i % 9}-{rng.getrandbits(48):012x}",
                "action": "resolve",
                "actor": "c01-wang",
                "reason": "ok",
                "time": "2026-11-28T09:30:00Z",
            }
        )
        for i in range(EXAMPLES // 3)
    ] + [encode(longest)]
    hostile.append(with_nul_key(good[0]))
    key = ACTIONS_KEY
    await produce_records(settings, settings.topic_actions, [(key, v) for v in interleave(hostile, good)])

    refused = [v for v in hostile if not valid(action_or_control, v)]
    accepted = {
        r["id"] for v in hostile + good if valid(action_or_control, v) and "control" not in (r := action_or_control(v))
    }
    assert refused and len(accepted) > len(good)
    await expect_dead_letters(settings, api, settings.topic_actions, key, refused)
    await expect_dead_letter_rows(pg, key, refused)
    # Nobody opened these incidents: each action is an action_rejected event in the audit trail.
    query = "SELECT count(DISTINCT action_id) FROM incident_events WHERE action_id = ANY($1)"
    assert await wait_for(pg, query, [list(accepted)], len(accepted)) == len(accepted)


async def test_worker_restarts_over_hostile_actions(settings, api, pg):
    """A restarted worker rebuilds its state by reading redwall.actions.v1 from the start, hostile records
    and tombstones included (one crashed that rebuild once): it must still handle the next action."""
    # Its own hostile records, so that it does not depend on test_raw_actions_topic having run first.
    hostile = draw(strategies.raw(strategies.actions("restart") | strategies.controls()), 20) + [
        encode({"control": "major_event", "time": strategies.now()})
    ]
    await produce_records(settings, settings.topic_actions, [(ACTIONS_KEY, v) for v in hostile])
    api.worker.stop()
    logged = api.worker.log_path.stat().st_size
    api.worker.start()
    api.wait_ready()
    action = {
        "id": f"restart-{random.randrange(10**9)}",
        "incident": "inc-c03-0123456789ab",
        "action": "ack",
        "actor": "c03-li",
        "reason": "after a restart",
        "time": strategies.now(),
    }
    await produce_records(settings, settings.topic_actions, [(ACTIONS_KEY, encode(action))])
    query = "SELECT count(*) FROM incident_events WHERE action_id = $1"
    assert await wait_for(pg, query, [action["id"]], 1) == 1, api.worker.log_tail()
    with open(api.worker.log_path, "rb") as log:
        log.seek(logged)
        since = log.read().decode(errors="replace")
    assert "Crashed" not in since and "exception was never retrieved" not in since, since[-3000:]
