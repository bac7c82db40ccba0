"""A month of 12345 orders through the real broker and the real sink into a PostgreSQL of its own; the
rates, the 前响应 share and the 每月一题 candidates read back, against figures counted here by hand in
plain Python from the same generated data (tests/support/hotline_month.py). Redelivering the whole topic
to a new consumer group changes no row."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from config.geometry import load_geometry
from config.hotline import load_hotline
from config.settings import SAMPLE_GEOMETRY
from consumers.batch import BatchConsumer, SinkMetrics
from consumers.sink import batch_sinks
from schemas import json
from schemas.display import CATEGORY
from sinks.hotline_rates import rates, topic_candidates
from sinks.migrate import migrate
from sinks.postgres import PostgresSink, seed_places
from streams.topics import ensure_topics
from tests.support.databases import own_database
from tests.support.hotline_month import NOW, TOPIC, generate
from tests.support.topics import own_topics
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

CONFIG = load_hotline()
MONTH = generate(CONFIG)
TZ = "Asia/Shanghai"
MONTH_START = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01 00:00 in Beijing


# ---- by hand, from the generated records -------------------------------------------------------------


def t(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def by_hand_orders() -> list[dict]:
    """Each order as of NOW: its place, limits, what happened by NOW, and whether the grid saw it first."""
    events = defaultdict(list)
    for e in MONTH.events:
        if t(e["time"]) <= NOW:
            events[e["order"]].append(e)
    found = []
    for o in MONTH.orders:
        mine = sorted(events[o["id"]], key=lambda e: e["time"])
        first = {}
        for e in mine:
            first.setdefault(e["kind"], e)
        last = {e["kind"]: e for e in mine}
        limit = t(last["extended"]["new_limit"]) if "extended" in last else t(o["limits"]["resolve_by"])
        found.append(
            {
                "id": o["id"],
                "street": o["street"],
                "community": o["community"],
                "grid": o.get("grid"),
                "category": o["category"],
                "dispatched": t(o["dispatched_at"]),
                "contact_by": t(o["limits"]["contact_by"]),
                "limit": limit,
                "contacted": t(first["contacted"]["time"]) if "contacted" in first else None,
                "returned": "returned" in last,
                "closed": t(last["closed"]["time"]) if "closed" in last else None,
                "callback": last.get("callback"),
                "by_point": o["placed_by"] in ("location", "address"),
                "grid_first": o["placed_by"] in ("location", "address") and seen_first(o),
            }
        )
    return found


def seen_first(order: dict) -> bool:
    lat, lng, at = order["point"]["lat"], order["point"]["lng"], t(order["dispatched_at"])
    for r in MONTH.reports:
        if r["device"] == "12345" or r["category"] != order["category"]:
            continue
        dy = (r["location"]["lat"] - lat) * 111_320
        dx = (r["location"]["lng"] - lng) * 111_320 * math.cos(math.radians(lat))
        if math.hypot(dx, dy) <= CONFIG.precursor_radius_m and at - timedelta(days=7) <= t(r["event_time"]) <= at:
            return True
    return False


ORDERS = by_hand_orders()


def share(part, whole):
    return part / whole if whole else None


def figures(orders: list[dict]) -> dict:
    kept = [o for o in orders if not o["returned"]]  # exclude_returned = true in config/hotline.toml
    due = [o for o in kept if o["contact_by"] <= NOW or o["contacted"]]
    calls = [o["callback"] for o in kept if o["callback"]]
    closed = [o for o in kept if o["closed"]]
    late_open = [o for o in kept if not o["closed"] and o["limit"] <= NOW]
    points = [o for o in kept if o["by_point"]]
    satisfied = sum({"satisfied": 1, "basically_satisfied": 0.8}.get(c["satisfaction"], 0) for c in calls)
    response = share(sum(1 for o in due if o["contacted"] and o["contacted"] <= o["contact_by"]), len(due))
    resolution = share(sum(1 for c in calls if c["resolved"] == "yes"), len(calls))
    satisfaction = share(satisfied, len(calls))
    parts = (response, resolution, satisfaction)
    return {
        "n": len(kept),
        "callbacks": len(calls),
        "response": response,
        "resolution": resolution,
        "satisfaction": satisfaction,
        "on_time": share(sum(1 for o in closed if o["closed"] <= o["limit"]), len(closed) + len(late_open)),
        "composite": None if None in parts else 0.2 * parts[0] + 0.4 * parts[1] + 0.4 * parts[2],
        "grid_first": share(sum(1 for o in points if o["grid_first"]), len(points)),
        "blind_spots": sum(1 for o in points if not o["grid_first"]),
        "ranked": len(kept) >= 10,
    }


def by_hand(by: str, start: datetime) -> dict[str, dict]:
    groups = defaultdict(list)
    for o in ORDERS:
        key = o[by] if by != "district" else "district"  # the district: every order
        if start <= o["dispatched"] <= NOW and key is not None:
            groups[key].append(o)
    return {key: figures(orders) for key, orders in groups.items()}


# ---- through the broker and the sink ------------------------------------------------------------------


def on_the_topic() -> list[dict]:
    """Orders and events in the order they happened, but every seventh order after its first event."""
    timed = [(t(o["dispatched_at"]), 0, o) for o in MONTH.orders] + [(t(e["time"]), 1, e) for e in MONTH.events]
    records = [r for _, _, r in sorted(timed, key=lambda x: (x[0], x[1], x[2]["id"]))]
    late = {o["id"] for o in MONTH.orders[::7]}
    for order_id in sorted(late):
        index = next(i for i, r in enumerate(records) if r["type"] == "order" and r["id"] == order_id)
        event = next((i for i, r in enumerate(records) if r["type"] == "event" and r["order"] == order_id), None)
        if event is not None:
            records.insert(event, records.pop(index))  # the event, now one earlier, comes first
    return records


@pytest.fixture(scope="module")
async def month(settings):
    url = await own_database(settings.database_url, "hotline_month")
    await migrate(url)
    s = dataclasses.replace(settings, database_url=url, **own_topics(settings, f"hotline-{uuid.uuid4().hex[:8]}"))
    await ensure_topics(s)
    sink = await PostgresSink.connect(url)
    await seed_places(sink.pool, load_geometry(SAMPLE_GEOMETRY))
    await sink.write_reports(MONTH.reports)
    producer = AIOKafkaProducer(bootstrap_servers=s.broker, linger_ms=5)
    await producer.start()
    try:
        for r in on_the_topic():
            key = (r["id"] if r["type"] == "order" else r["order"]).encode()
            await producer.send(s.topic_hotline_located, json.dumps(r), key=key)
        await producer.flush()
    finally:
        await producer.stop()
    started = time.perf_counter()
    await drain(s, sink, "first")
    print(
        f"\nhotline month: {len(MONTH.orders)} orders, {len(MONTH.events)} events stored in "
        f"{time.perf_counter() - started:.1f} s"
    )
    try:
        yield s, sink
    finally:
        await sink.close()


async def drain(s, sink: PostgresSink, group: str) -> None:
    """The real hotline BatchSink under a group of its own, until every order and event is stored (and,
    for a second group, a little longer than the first needed)."""
    spec = next(b for b in batch_sinks(s, sink, f"test-hotline-{uuid.uuid4().hex[:6]}-{group}") if b.name == "hotline")
    registry, stop = CollectorRegistry(), asyncio.Event()
    task = asyncio.create_task(BatchConsumer(s, spec, SinkMetrics(registry)).run(stop))

    async def read_all():
        seen = registry.get_sample_value("redwall_sink_batch_records_sum", {"sink": "hotline"}) or 0
        return seen >= len(MONTH.orders) + len(MONTH.events) or task.done()

    try:
        assert await eventually(read_all, 120)
        assert not task.done(), task.exception()
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)


def compare(found, expected: dict[str, dict]) -> None:
    assert {r.key for r in found} == set(expected)
    for rate in found:
        want = expected[rate.key]
        got = {k: getattr(rate, k) for k in want}
        # Floats to 1e-9 (summed in another order), everything else exactly.
        close = {
            k: v if isinstance(v, float) and math.isclose(v, got[k], rel_tol=1e-9) else got[k] for k, v in want.items()
        }
        assert close == want, rate.key


@pytest.mark.parametrize("by", ["district", "street", "community", "grid", "category"])
@pytest.mark.parametrize("period", ["month", "30d"])
async def test_the_rates_are_the_ones_counted_by_hand(month, by, period):
    s, sink = month
    started = time.perf_counter()
    found = await rates(sink.pool, CONFIG, NOW, by=by, period=period, month="2026-11", tz=TZ)
    print(f"\nrates by {by}, {period}: {len(found)} rows in {(time.perf_counter() - started) * 1000:.0f} ms")
    start = MONTH_START if period == "month" else NOW - timedelta(days=30)
    expected = by_hand(by, start)
    compare(found, expected)
    # Ranked ones first, by composite; every name is Chinese.
    ranked = [r.composite for r in found if r.ranked]
    assert ranked == sorted(ranked, reverse=True) and [r.ranked for r in found] == sorted(
        (r.ranked for r in found), reverse=True
    )
    if by == "category":
        assert all(r.name == CATEGORY[r.key] for r in found)
    if by == "district":
        assert [(r.key, r.name) for r in found] == [("district", "全区")]
    if by == "community":
        names = {r.key: r.name for r in found}
        assert names["c01"] == "新文化街社区" and names["unlocated"] == "未定位"


async def test_the_month_holds_what_it_should(month):
    """The generated month exercises every rule: late and missing contacts, extensions, returns, late
    and open-late closes, call-backs, and orders both seen first by the grid and blind."""
    street = by_hand("street", MONTH_START)["xichangan"]
    print("\nhotline month, the street in November to date:", {k: round(v, 3) for k, v in street.items()})
    november = [o for o in ORDERS if o["dispatched"] >= MONTH_START]
    assert 180 <= len(november) <= 200 and street["n"] < len(november)  # some returned
    assert 0.5 < street["response"] < 0.95 and 0.5 < street["on_time"] < 0.95
    assert any(
        o["limit"] != t(next(x for x in MONTH.orders if x["id"] == o["id"])["limits"]["resolve_by"]) for o in november
    )
    assert any(not o["closed"] and o["limit"] <= NOW for o in november)
    assert 0.1 < street["grid_first"] < 0.9 and street["blind_spots"] > 10


async def test_the_topics_are_the_ones_counted_by_hand(month):
    s, sink = month
    found = await topic_candidates(sink.pool, CONFIG, NOW, month="2026-11", tz=TZ)
    counts = defaultdict(lambda: [[], 0])
    three_months_before = datetime(2026, 7, 31, 16, 0, tzinfo=UTC)
    for o in ORDERS:
        if o["returned"] or o["grid"] is None or not three_months_before <= o["dispatched"] <= NOW:
            continue
        entry = counts[(o["grid"], o["category"])]
        if o["dispatched"] >= MONTH_START:
            entry[0].append(o["id"])
        else:
            entry[1] += 1
    expected = {}
    for (grid, category), (ids, before) in counts.items():
        z = 2 * (math.sqrt(len(ids)) - math.sqrt(before / 3))
        if len(ids) >= 3 and z >= 2.0:
            expected[(grid, category)] = (len(ids), before / 3, sorted(ids))
    assert {(f["grid"], f["category"]): (f["count"], f["usual"], f["orders"]) for f in found} == expected
    assert (TOPIC[0], TOPIC[1]) in expected
    assert [f["z"] for f in found] == sorted((f["z"] for f in found), reverse=True)


async def test_redelivering_the_whole_topic_changes_nothing(month):
    s, sink = month
    orders = "SELECT * FROM hotline_orders ORDER BY id"
    events = "SELECT id, order_id, kind, event_time, actor, payload FROM hotline_order_events ORDER BY id"

    async def snapshot():
        async with sink.pool.acquire() as conn:
            rows = [{k: v for k, v in r.items() if k != "stored_at"} for r in await conn.fetch(orders)]
            return rows, [dict(r) for r in await conn.fetch(events)]

    before = await snapshot()
    assert len(before[0]) == len(MONTH.orders) and len(before[1]) == len(MONTH.events)
    await drain(s, sink, "again")
    assert await snapshot() == before
    again = await rates(sink.pool, CONFIG, NOW, by="community", month="2026-11", tz=TZ)
    compare(again, by_hand("community", MONTH_START))
