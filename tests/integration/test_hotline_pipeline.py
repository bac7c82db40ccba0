"""Three weeks of 12345 orders played in event time through the whole pipeline: posted by the adapter over
HTTP to a real worker, placed and joined to incidents there, stored by a real sink in a PostgreSQL of its
own; grid reports posted by phones beforehand. The rates and the 前响应 share read back equal figures
counted here by hand from what was posted, with the places taken from the GeoJSON by shapely (the
geometry oracle, not Redwall's lookup); a clock past its early warning raises one alert on the topic."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from shapely.geometry import Point, shape

from config.geometry import load_geometry
from config.hotline import load_hotline
from config.settings import SAMPLE_GEOMETRY
from schemas import json
from sinks.hotline_rates import rates
from sinks.migrate import migrate
from sinks.postgres import open_pool, seed_places
from streams.demo.embedded import free_port
from streams.topics import ensure_topics, read_topic
from tests.support.auth import device_headers, integration_headers
from tests.support.databases import own_database
from tests.support.hotline import WORKING_CALENDAR
from tests.support.hotline_posts import contact_hash
from tests.support.pipeline import running_pipeline
from tests.support.topics import own_topics
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

CONFIG = load_hotline()
NOW = datetime.now(UTC).replace(microsecond=0)
COMMUNITIES = {
    f["properties"]["id"]: shape(f["geometry"])
    for f in json.loads(SAMPLE_GEOMETRY.read_bytes())["features"]
    if f["properties"]["kind"] == "community"
}
CATEGORIES = {"sanitation": "0101", "illegal_parking": "0103", "dispute": "04"}


def community_of(lat: float, lng: float) -> str | None:
    return next((c for c, area in COMMUNITIES.items() if area.contains(Point(lng, lat))), None)


def inner_point(rng: random.Random, community: str) -> tuple[float, float]:
    """A point well inside `community` (50 m from its edge), by rejection."""
    area = COMMUNITIES[community]
    west, south, east, north = area.bounds
    while True:
        lat, lng = rng.uniform(south, north), rng.uniform(west, east)
        if area.contains(Point(lng, lat)) and area.exterior.distance(Point(lng, lat)) > 50 / 111_320:
            return round(lat, 6), round(lng, 6)


def iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def played(seed: int = 1512) -> tuple[list[dict], list[tuple[str, dict]], list[dict], list[dict]]:
    """(orders, (order id, event) pairs, field reports, what happened to each order), all before NOW."""
    rng, orders, events, reports, truth = random.Random(seed), [], [], [], []
    for n in range(36):
        community, category = rng.choice(["c01", "c02", "c03"]), rng.choice(list(CATEGORIES))
        lat, lng = inner_point(rng, community)
        dispatched = NOW - timedelta(days=rng.uniform(1, 21))
        order_id = f"hl-{n:03d}"
        orders.append(
            {
                "id": order_id,
                "received_at": iso(dispatched - timedelta(minutes=5)),
                "dispatched_at": iso(dispatched),
                "channel": "phone",
                "appeal_type": "complaint",
                "catalogue": [{"code": CATEGORIES[category], "name": category}],
                "urgency": "ordinary",
                "content": f"来电反映问题 {n}，联系电话13812345678",
                "address": "",
                "location": {"lat": lat, "lng": lng},
                "lead_unit": "西长安街街道办事处",
                "contact_masked": "138****5678",
                "contact_hash": contact_hash(f"138{n:08d}"),
            }
        )
        seen = n % 3 == 0  # the grid reported it two days before, 40 m away
        if seen:
            reports.append(
                {
                    "id": f"r-{order_id}",
                    "device": "hl-phone",
                    "category": category,
                    "severity": "low",
                    "text": "巡查发现",
                    "location": {"lat": lat + 40 / 111_320, "lng": lng, "accuracy": 5},
                    "event_time": iso(dispatched - timedelta(days=2)),
                }
            )
        fate = {"id": order_id, "community": community, "seen": seen, "dispatched": dispatched}
        limits = CONFIG.limits("ordinary", dispatched, WORKING_CALENDAR)
        contact_by, resolve_by = limits.contact_by, limits.resolve_by

        def event(kind: str, at: datetime, order_id=order_id, fate=fate, **fields) -> None:
            if at <= NOW:
                events.append((order_id, {"id": f"{order_id}-{kind}", "kind": kind, "time": iso(at), **fields}))
                fate[kind] = (at, fields)

        if n % 11 == 5:
            event("returned", dispatched + timedelta(hours=3), returned_to="区水务局")
        else:
            if n % 5 != 4:  # one in five never contacted
                event("contacted", dispatched + (contact_by - dispatched) * (1.5 if n % 4 == 1 else 0.5))
            if n % 6 == 2:
                resolve_by += timedelta(days=3)
                event("extended", dispatched + timedelta(hours=5), new_limit=iso(resolve_by))
            if n % 4 != 3:
                closed = dispatched + (resolve_by - dispatched) * (1.2 if n % 7 == 0 else 0.6)
                event("closed", closed, result="已处理")
                if n % 2 == 0:
                    event(
                        "callback",
                        closed + timedelta(hours=6),
                        resolved="no" if n % 8 == 0 else "yes",
                        satisfaction=["satisfied", "basically_satisfied", "not_satisfied"][n % 3],
                    )
        fate.update(contact_by=contact_by, resolve_by=resolve_by)
        truth.append(fate)
    return orders, events, reports, truth


ORDERS, EVENTS, REPORTS, TRUTH = played()
LOCATION = {o["id"]: o["location"] for o in ORDERS}
CATEGORY_OF = {o["id"]: next(c for c, code in CATEGORIES.items() if code == o["catalogue"][0]["code"]) for o in ORDERS}


def grid_saw_it(fate: dict) -> bool:
    """前响应 by hand: any phone's report of the order's category within the radius, in the days before."""
    at, where = fate["dispatched"], LOCATION[fate["id"]]
    for r in REPORTS:
        dy = (r["location"]["lat"] - where["lat"]) * 111_320
        dx = (r["location"]["lng"] - where["lng"]) * 111_320 * math.cos(math.radians(where["lat"]))
        when = datetime.fromisoformat(r["event_time"])
        if (
            r["category"] == CATEGORY_OF[fate["id"]]
            and math.hypot(dx, dy) <= CONFIG.precursor_radius_m
            and at - timedelta(days=CONFIG.precursor_days) <= when <= at
        ):
            return True
    return False


def by_hand(fates: list[dict]) -> dict:
    kept = [f for f in fates if "returned" not in f]
    due = [f for f in kept if f["contact_by"] <= NOW or "contacted" in f]
    in_time = [f for f in due if "contacted" in f and f["contacted"][0] <= f["contact_by"]]
    calls = [f["callback"][1] for f in kept if "callback" in f]
    closed = [f for f in kept if "closed" in f]
    late_open = [f for f in kept if "closed" not in f and f["resolve_by"] <= NOW]
    worth = {"satisfied": 1.0, "basically_satisfied": CONFIG.basically_satisfied}

    def share(part, whole):
        return part / whole if whole else None

    response = share(len(in_time), len(due))
    resolution = share(sum(c["resolved"] == "yes" for c in calls), len(calls))
    satisfaction = share(sum(worth.get(c["satisfaction"], 0.0) for c in calls), len(calls))
    w = CONFIG.weights
    return {
        "n": len(kept),
        "callbacks": len(calls),
        "response": response,
        "resolution": resolution,
        "satisfaction": satisfaction,
        "on_time": share(sum(f["closed"][0] <= f["resolve_by"] for f in closed), len(closed) + len(late_open)),
        "composite": None
        if None in (response, resolution, satisfaction)
        else w["response"] * response + w["resolution"] * resolution + w["satisfaction"] * satisfaction,
        "grid_first": share(sum(grid_saw_it(f) for f in kept), len(kept)),
        "blind_spots": sum(not grid_saw_it(f) for f in kept),
    }


@pytest.fixture(scope="module")
async def street(settings, tmp_path_factory):
    url = await own_database(settings.database_url, "hotline_pipeline")
    await migrate(url)
    ports = {p: free_port() for p in ("web_port", "worker_metrics_port", "sink_metrics_port")}
    s = dataclasses.replace(
        settings,
        database_url=url,
        hotline_clock_seconds=2.0,
        **ports,
        **own_topics(settings, f"hlp-{uuid.uuid4().hex[:8]}"),
    )
    await ensure_topics(s)
    pool = await open_pool(url)
    await seed_places(pool, load_geometry(SAMPLE_GEOMETRY))
    with running_pipeline(s, tmp_path_factory.mktemp("hotline-pipeline")) as pipeline:
        yield s, pipeline, pool
    await pool.close()


async def post(session, url: str, body, headers: dict) -> None:
    async with session.post(url, json=body, headers=headers) as answer:
        assert answer.status == 202, await answer.text()


async def test_three_weeks_of_orders_through_the_pipeline_give_the_rates_counted_by_hand(street):
    s, pipeline, pool = street
    adapter, phone = await integration_headers(s), await device_headers(s, "hl-phone")
    async with aiohttp.ClientSession() as session:
        await post(session, f"{pipeline.url}/v1/reports", REPORTS, phone)

        async def reports_stored():
            return await _count(pool, "reports") == len(REPORTS)

        assert await eventually(reports_stored, 60)
        await post(session, f"{pipeline.url}/v1/hotline/orders", ORDERS, adapter)
        for order_id, event in sorted(EVENTS, key=lambda e: e[1]["time"]):  # in the order they happened
            await post(session, f"{pipeline.url}/v1/hotline/orders/{order_id}/events", event, adapter)

    async def stored():
        return await _count(pool, "hotline_orders") == len(ORDERS) and await _count(
            pool, "hotline_order_events"
        ) == len(EVENTS)

    assert await eventually(stored, 90)

    # Placed where the oracle says, its phone number masked, and every order in an incident.
    placed = {r["id"]: r for r in await pool.fetch("SELECT * FROM hotline_orders")}
    assert {o: r["community_id"] for o, r in placed.items()} == {f["id"]: f["community"] for f in TRUTH}
    assert all(community_of(r["lat"], r["lng"]) == r["community_id"] for r in placed.values())
    assert all("13812345678" not in r["content"] and "138****5678" in r["content"] for r in placed.values())

    async def linked():  # the incident sink stores the engine's links beside the hotline sink
        joined = "SELECT count(*) FROM hotline_orders o JOIN incident_reports i ON i.report_id = o.report_id"
        return await pool.fetchval(joined) == len(ORDERS)

    assert await eventually(linked, 60)

    by_community = await rates(pool, CONFIG, NOW, by="community", period="30d", tz=s.timezone)
    assert {r.key for r in by_community} == {f["community"] for f in TRUTH}
    for found in by_community:
        want = by_hand([f for f in TRUTH if f["community"] == found.key])
        got = {k: getattr(found, k) for k in want}
        assert got.keys() == want.keys()
        for k, v in want.items():
            assert (v is None and got[k] is None) or math.isclose(got[k], v, rel_tol=1e-9), (found.key, k, got, want)
    street_row = (await rates(pool, CONFIG, NOW, by="street", period="30d", tz=s.timezone))[0]
    assert street_row.n == len([f for f in TRUTH if "returned" not in f])
    assert 0 < street_row.grid_first < 1 and street_row.blind_spots > 0 and street_row.callbacks > 5


async def test_an_order_past_its_early_warning_raises_one_alert(street):
    s, pipeline, _ = street
    contact = timedelta(seconds=WORKING_CALENDAR.seconds(CONFIG.contact))  # calendar time
    dispatched = datetime.now(UTC) - contact * 0.9  # past 80 % of its contact limit, not yet contacted
    order = {**ORDERS[0], "id": "hl-warn", "dispatched_at": iso(dispatched), "received_at": iso(dispatched)}
    async with aiohttp.ClientSession() as session:
        await post(session, f"{pipeline.url}/v1/hotline/orders", order, await integration_headers(s))

    async def warnings():
        found = defaultdict(list)
        async for r in read_topic(s, s.topic_alerts):
            alert = json.loads(r.value)
            if alert.get("order") == "hl-warn":
                found[alert["kind"]].append(alert["id"])
        return found

    assert await eventually(lambda: _has(warnings(), "hotline_warning"), 90)
    await asyncio.sleep(s.hotline_clock_seconds * 2)  # two more ticks: still one
    found = await warnings()
    assert len(found["hotline_warning"]) == 1 and "hotline_breached" not in found


async def _has(found, kind: str) -> bool:
    return bool((await found)[kind])


async def _count(pool, table: str) -> int:
    return await pool.fetchval(f"SELECT count(*) FROM {table}")
