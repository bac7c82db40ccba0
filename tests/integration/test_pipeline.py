"""Reports and pings through the real broker, the worker and the sink into Postgres, with crashes."""

from __future__ import annotations

import asyncio
import base64
import random
from datetime import datetime

import aiohttp
import pytest

from schemas import json
from sinks.credentials import issue_device_token
from streams.topics import produce_records, read_topic
from tests.support import factories
from tests.support.auth import device_headers
from tests.support.rows import dead_letters_from_topic, wait_for

pytestmark = pytest.mark.integration

MALFORMED = [
    b'{"id": "bad-1", "category": ',  # truncated JSON
    json.dumps({"id": "bad-2", "device": "dev-x"}),  # fields missing
    b"\xff\xfe\x00 not text",
    json.dumps({**factories.report(random.Random(1), "dev-x"), "severity": "apocalyptic"}),
    json.dumps({**factories.report(random.Random(2), "dev-x"), "location": {"lat": 39.9, "lng": 999}}),
]


async def produce(settings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    await produce_records(settings, topic, records)


def _second(rfc3339: str) -> int:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).second  # positions carry +00:00, pings Z


async def explain_missing(settings, pg, like: str, batches: list[dict]) -> str:
    """Which batches did not reach Postgres, and whether the worker had published them."""
    stored = {
        (r["device_id"], r["s"] // 10)
        for r in await pg.fetch(
            "SELECT device_id, extract(second FROM event_time)::int AS s FROM positions WHERE device_id LIKE $1", like
        )
    }
    missing = [(b["device"], _second(b["pings"][0]["time"]) // 10) for b in batches]
    missing = [m for m in missing if m not in stored]
    published = set()
    async for record in read_topic(settings, settings.topic_positions):
        batch = json.loads(record.value)
        published.add((batch["device"], _second(batch["pings"][0]["time"]) // 10))
    return (
        f"{len(missing)} batches missing from Postgres: {missing[:10]}; "
        f"of these on {settings.topic_positions}: {[m for m in missing if m in published][:10]}"
    )


async def test_reports_and_pings_land_in_postgres_exactly_once_across_crashes(settings, pipeline, pg):
    rng = random.Random(2026)
    run = f"p{rng.randrange(10**6)}"
    reports = [factories.report(rng, f"{run}-dev-{i % 10:03d}") for i in range(45)]
    devices = [f"{run}-dev-{i:03d}" for i in range(100)]
    batches = [factories.ping_batch(rng, d, 10, start_second=10 * k) for d in devices for k in range(2)]
    assert sum(len(b["pings"]) for b in batches) == 2000

    first, second = batches[:100], batches[100:]
    await produce(settings, settings.topic_reports, [(r["device"].encode(), json.dumps(r)) for r in reports])
    await produce(settings, settings.topic_reports, [(f"{run}-bad".encode(), v) for v in MALFORMED])
    await produce(settings, settings.topic_pings, [(b["device"].encode(), json.dumps(b)) for b in first])

    # Crash both processes mid-way, as soon as some of the first half has landed.
    like = f"{run}-%"
    await wait_for(pg, "SELECT count(*) FROM positions WHERE device_id LIKE $1", [like], 1)
    pipeline.worker.kill()
    pipeline.sink.kill()
    await produce(settings, settings.topic_pings, [(b["device"].encode(), json.dumps(b)) for b in second])
    pipeline.worker.start()
    pipeline.sink.start()
    pipeline.wait_ready()

    count = await wait_for(pg, "SELECT count(*) FROM positions WHERE device_id LIKE $1", [like], 2000)
    if count != 2000:
        pytest.fail(await explain_missing(settings, pg, like, batches))
    assert await wait_for(pg, "SELECT count(*) FROM reports WHERE device_id LIKE $1", [like], 45) == 45

    rows = await pg.fetch(
        "SELECT device_id, event_time, lat, lng, community_id, grid_id FROM positions WHERE device_id LIKE $1", like
    )
    assert len({(r["device_id"], r["event_time"]) for r in rows}) == 2000
    for r in rows:
        assert (r["community_id"], r["grid_id"]) == factories.oracle_place(r["lat"], r["lng"])

    stored = {r["id"]: r for r in await pg.fetch("SELECT * FROM reports WHERE device_id LIKE $1", like)}
    assert set(stored) == {r["id"] for r in reports}
    for r in reports:
        row = stored[r["id"]]
        loc = r["location"]
        assert (row["community_id"], row["grid_id"]) == factories.oracle_place(loc["lat"], loc["lng"])
        assert row["street_id"] == "xichangan"
        assert (row["category"], row["severity"], row["text"]) == (r["category"], r["severity"], r["text"])

    latest = await pg.fetch("SELECT device_id, event_time FROM latest_positions WHERE device_id LIKE $1", like)
    assert len(latest) == 100
    assert all(row["event_time"].second == 19 for row in latest)  # the newest of each device's 20 fixes

    # The malformed records are dead letters, with a reason and their original bytes, in the topic
    # and in Postgres; a crash may re-deliver one to the topic, but Postgres holds each once.
    letters = await dead_letters_from_topic(settings, f"{run}-bad".encode())
    assert {base64.b64decode(d["value_b64"]) for d in letters} == set(MALFORMED)
    assert all(d["reason"] and d["errors"][0]["field"] for d in letters)
    by_payload = {
        bytes(r["payload"]): r
        for r in await pg.fetch(
            "SELECT payload, reason, errors FROM dead_letters WHERE key = $1", f"{run}-bad".encode()
        )
    }
    assert set(by_payload) == set(MALFORMED)
    assert "severity" in by_payload[MALFORMED[3]]["reason"]
    assert "location.lng" in by_payload[MALFORMED[4]]["reason"]
    assert "not valid JSON" in by_payload[MALFORMED[0]]["reason"]


async def test_http_ingest_accepts_valid_input_into_postgres(settings, pipeline, pg):
    rng = random.Random(7)
    run = f"h{rng.randrange(10**6)}"
    reports = [factories.report(rng, f"{run}-dev") for _ in range(3)]
    batch = factories.ping_batch(rng, f"{run}-dev", 5)
    device = await device_headers(settings, f"{run}-dev")
    async with aiohttp.ClientSession(headers=device) as http:
        async with http.post(f"{pipeline.url}/v1/reports", json=reports[0]) as resp:
            assert resp.status == 202
            assert await resp.json() == {"accepted": [reports[0]["id"]]}
        async with http.post(f"{pipeline.url}/v1/reports", json=reports[1:]) as resp:
            assert resp.status == 202
            assert (await resp.json())["accepted"] == [r["id"] for r in reports[1:]]
        async with http.post(f"{pipeline.url}/v1/pings", json=batch) as resp:
            assert resp.status == 202
            assert await resp.json() == {"device": f"{run}-dev", "accepted": 5}
    assert await wait_for(pg, "SELECT count(*) FROM reports WHERE device_id = $1", [f"{run}-dev"], 3) == 3
    assert await wait_for(pg, "SELECT count(*) FROM positions WHERE device_id = $1", [f"{run}-dev"], 5) == 5


@pytest.mark.parametrize(
    "path, body, status, field",
    [
        ("/v1/reports", b'{"id": ', 400, "(body)"),
        ("/v1/reports", json.dumps({"id": "x"}), 422, "category"),
        ("/v1/reports", "severity", 422, "severity"),
        ("/v1/reports", "location", 422, "location.lat"),
        ("/v1/reports", "batch", 422, "1.event_time"),
        ("/v1/reports", json.dumps([]), 422, "(body)"),
        ("/v1/pings", json.dumps({"device": "d", "pings": []}), 422, "pings"),
        ("/v1/pings", "ping", 422, "pings.1.accuracy"),
        ("/v1/pings", json.dumps({"device": "d", "pings": [{"lat": 1}] * 1001}), 422, "pings"),
    ],
)
async def test_http_ingest_refuses_invalid_input_naming_the_field(settings, pipeline, pg, path, body, status, field):
    rng = random.Random(11)
    good = factories.report(rng, "refused-dev")
    bodies = {
        "severity": json.dumps({**good, "severity": "apocalyptic"}),
        "location": json.dumps({**good, "location": {"lat": "39.9", "lng": 116.37}}),
        "batch": json.dumps([good, {**good, "id": "other", "event_time": "soon"}]),
        "ping": json.dumps(
            {
                "device": "d",
                "pings": [
                    {"lat": 39.9, "lng": 116.37, "accuracy": 4, "time": "2026-11-28T01:00:00Z"},
                    {"lat": 39.9, "lng": 116.37, "time": "2026-11-28T01:00:01Z"},
                ],
            }
        ),
    }
    token = await issue_device_token(settings.database_url, "refused-dev")
    async with aiohttp.ClientSession() as http:
        data = bodies.get(body, body) if isinstance(body, str) else body
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        async with http.post(f"{pipeline.url}{path}", data=data, headers=headers) as resp:
            assert resp.status == status
            answer = await resp.json()
    assert answer["errors"][0]["field"] == field
    assert answer["errors"][0]["reason"]
    # Nothing of a refused request was produced: the one valid report in the batch is not stored.
    await asyncio.sleep(0.5)
    assert await pg.fetchval("SELECT count(*) FROM reports WHERE id = $1", good["id"]) == 0
