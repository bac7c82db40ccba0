"""Per-street isolation in a district of two streets (tests/support/two_streets.py), through a real worker, sink
and `redwall console` on PostgreSQL: a street dispatcher of `east` neither sees nor acts on `west` (its incidents,
alerts and tasks are not in its lists, its feed or its details; acting there and giving a task there is refused),
while the district dispatcher (区级调度) sees and acts on both."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import aiohttp
import asyncpg
import pytest

from config.geometry import load_geometry
from config.roster import load_roster
from schemas import json
from sinks.credentials import issue_device_token, issue_dispatcher_token
from sinks.migrate import migrate
from sinks.postgres import open_pool, seed_places
from sinks.weekly_reports import claim, mark_announced, store
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics
from tests.support import factories
from tests.support.databases import own_database
from tests.support.hotline_rows import insert_orders, order
from tests.support.quick import QUICK_KAFKA
from tests.support.topics import own_topics
from tests.support.two_streets import DISTRICT, EAST, WEST, street_of, two_streets
from tests.support.waiting import eventually
from tests.support.weekly_schedule import FixedMaker

pytestmark = pytest.mark.integration

RUN = f"iso{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
async def district(settings, tmp_path_factory):
    """(settings, geometry, tokens by role name, {street: incident id}) with one incident opened in each street."""
    logs = tmp_path_factory.mktemp("streets")
    path = two_streets(logs)
    geometry = load_geometry(path)
    url = await own_database(settings.database_url, "streets")
    await migrate(url)
    await seed_places(url, geometry)
    s = dataclasses.replace(
        settings,
        database_url=url,
        geometry_path=path,
        web_port=free_port(),
        worker_metrics_port=free_port(),
        sink_metrics_port=free_port(),
        console_port=free_port(),
        **own_topics(settings, RUN),
        **QUICK_KAFKA,
    )
    await ensure_topics(s)
    loader = RedwallProcess("roster", s, logs, "load").start()
    assert loader.proc.wait(60) == 0, loader.log_tail()
    tokens = {
        "east": await issue_dispatcher_token(url, f"{RUN}-east", "street", street=EAST),
        "east-c01": await issue_dispatcher_token(url, f"{RUN}-c01", "community", "c01", street=EAST),
        "district": await issue_dispatcher_token(url, f"{RUN}-district", "district"),
    }
    procs = [RedwallProcess(name, s, logs).start() for name in ("worker", "sink", "console")]
    try:
        procs[0].wait_http(f"http://127.0.0.1:{s.worker_metrics_port}/metrics")
        procs[0].wait_http(f"{worker_url(s)}/openapi.json")
        procs[1].wait_http(f"http://127.0.0.1:{s.sink_metrics_port}/metrics")
        procs[2].wait_http(console(s, "/static/console.css"))
        incidents = {street: await _open_incident(s, geometry, street) for street in (EAST, WEST)}
        yield s, geometry, tokens, incidents
    finally:
        for proc in procs:
            proc.stop()


def worker_url(s) -> str:
    return f"http://{s.web_host}:{s.web_port}"


async def _open_incident(s, geometry, street: str) -> str:
    """Posts a report at a courtyard of `street` and waits for the console's feed to show its incident."""
    courtyard = next(c for c in geometry.courtyards if street_of(c[:3]) == street)
    lng, lat = geometry.courtyards[courtyard].centre
    device = f"{RUN}-{street}-phone"
    report = factories.report(
        random.Random(street),
        device,
        id=f"{RUN}-{street}-{uuid.uuid4().hex[:6]}",
        category="sanitation",
        severity="low",
        location={"lat": lat, "lng": lng, "accuracy": 5.0},
        event_time=datetime.now(UTC).isoformat(),
    )
    token = await issue_device_token(s.database_url, device)
    async with aiohttp.ClientSession(headers=bearer(token)) as http:
        async with http.post(f"{worker_url(s)}/v1/reports", json=[report]) as answer:
            assert answer.status == 202, await answer.text()
    district_token = await issue_dispatcher_token(s.database_url, f"{RUN}-{street}-look", "district")

    async def opened():
        body = await console_get(s, "/api/snapshot", district_token)
        return next((i["id"] for i in body["incidents"] if i["community"] == courtyard[:3]), None)

    found = await eventually(opened, 60)
    assert found, f"no incident in {street} on the console"
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def console_get(s, path: str, token: str) -> dict:
    async with aiohttp.ClientSession() as http, http.get(console(s, path), headers=bearer(token)) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.json()


def console(s, path: str) -> str:
    return f"http://127.0.0.1:{s.console_port}{path}"


async def status_of(http, method: str, url: str, token: str, body=None) -> tuple[int, dict]:
    async with http.request(method, url, json=body, headers=bearer(token)) as answer:
        return answer.status, await answer.json()


async def test_a_street_dispatcher_sees_its_streets_incidents_and_alerts_only(district):
    s, geometry, tokens, incidents = district
    for who in ("east", "east-c01"):
        body = await console_get(s, "/api/snapshot", tokens[who])
        assert body["street"] == EAST
        assert incidents[EAST] in {i["id"] for i in body["incidents"]}
        assert {geometry.street_of(i["community"]) for i in body["incidents"]} == {EAST}
        assert {a["street"] for a in body["alerts"]} <= {EAST} and body["alerts"]
    everything = await console_get(s, "/api/snapshot", tokens["district"])
    assert set(incidents.values()) <= {i["id"] for i in everything["incidents"]}
    assert {a["street"] for a in everything["alerts"]} == {EAST, WEST}


async def test_a_street_dispatchers_map_is_its_street_and_the_districts_the_whole(district):
    s, geometry, tokens, _ = district
    mine = await console_get(s, "/api/geometry", tokens["east"])
    assert {g["id"] for g in mine["grids"]} == {g for g in geometry.grids if geometry.street_of(g) == EAST}
    assert mine["street"] == geometry.streets[EAST].name
    assert {c["id"] for c in mine["communities"]} == {c for c, a in geometry.communities.items() if a.parent == EAST}
    whole = await console_get(s, "/api/geometry", tokens["district"])
    assert {g["id"] for g in whole["grids"]} == set(geometry.grids) and whole["street"] == geometry.district.name
    unnamed = await issue_dispatcher_token(s.database_url, f"{RUN}-no-street", "street")  # issued before streets
    assert (await console_get(s, "/api/geometry", unnamed))["grids"] == []


async def test_another_streets_incident_does_not_exist_for_a_street_dispatcher(district):
    s, _, tokens, incidents = district
    async with aiohttp.ClientSession() as http:
        status, body = await status_of(http, "GET", console(s, f"/api/incidents/{incidents[WEST]}"), tokens["east"])
        assert status == 404 and body["errors"][0]["field"] == "incident"
        assert (await status_of(http, "GET", console(s, f"/api/incidents/{incidents[EAST]}"), tokens["east"]))[0] == 200
        for street in (EAST, WEST):
            got = await status_of(http, "GET", console(s, f"/api/incidents/{incidents[street]}"), tokens["district"])
            assert got[0] == 200


async def test_the_live_feed_carries_a_street_dispatchers_street_only(district):
    s, geometry, tokens, _ = district
    seen: list[dict] = []

    async def listen(token: str, into: list) -> None:
        async with aiohttp.ClientSession() as http, http.get(console(s, "/api/events"), headers=bearer(token)) as r:
            async for line in r.content:
                if line.startswith(b"data: {") and line.strip() != b"data: {}":
                    into.append(json.loads(line[6:]))

    everything: list[dict] = []
    readers = [
        asyncio.create_task(listen(tokens["east"], seen)),
        asyncio.create_task(listen(tokens["district"], everything)),
    ]
    try:
        await asyncio.sleep(1.0)  # both subscribed before the incidents open
        opened = {street: await _open_incident(s, geometry, street) for street in (WEST, EAST)}

        def ids(batches: list[dict]) -> set[str]:
            return {i for b in batches for i in b.get("incidents", {})}

        async def arrived() -> bool:
            return set(opened.values()) <= ids(everything) and opened[EAST] in ids(seen)

        assert await eventually(arrived, 30), "both incidents on the district's feed, east's on east's"
    finally:
        for reader in readers:
            reader.cancel()
    assert {geometry.street_of(i["community"]) for b in seen for i in b.get("incidents", {}).values()} == {EAST}
    assert {a["street"] for b in seen for a in b.get("alerts", [])} <= {EAST}
    assert opened[WEST] not in ids(seen)


async def test_a_street_dispatcher_is_refused_acting_on_another_street(district):
    s, _, tokens, incidents = district
    worker = worker_url(s)
    ack = {"action": "ack", "reason": "on my way"}
    approve = {"action": "approve", "request": "act-0", "reason": "agreed"}  # a street dispatcher's own action
    async with aiohttp.ClientSession() as http:
        for url, action in (
            (console(s, f"/api/incidents/{incidents[WEST]}/actions"), ack),
            (f"{worker}/v1/incidents/{incidents[WEST]}/actions", ack),
            (f"{worker}/v1/incidents/{incidents[WEST]}/actions", approve),
        ):
            status, body = await status_of(http, "POST", url, tokens["east"], action)
            assert status == 403, body
            assert body["errors"][0]["field"] == "incident"
            assert f"street {EAST} only" in body["errors"][0]["reason"]
        # The worker judges the street's own and the district's actions (200, or 202 before the verdict).
        assert (await status_of(http, "POST", f"{worker}/v1/incidents/{incidents[EAST]}/actions", tokens["east"], ack))[
            0
        ] in (200, 202)
        got = await status_of(http, "POST", f"{worker}/v1/incidents/{incidents[WEST]}/actions", tokens["district"], ack)
        assert got[0] in (200, 202), got


async def test_tasks_are_given_and_listed_inside_the_street_only(district):
    s, geometry, tokens, _ = district
    roster = load_roster(s.roster_path, geometry=s.geometry_path)
    device = {
        street: next(d for d, w in sorted(roster.workers.items()) if street_of(w.grid[:3]) == street)
        for street in (EAST, WEST)
    }
    worker = worker_url(s)

    def task(street: str) -> dict:
        grid = roster.workers[device[street]].grid
        courtyard = next(c for c, area in geometry.courtyards.items() if area.parent == grid)
        return {"device": device[street], "kind": "visit_courtyard", "note": "入户走访", "courtyard": courtyard}

    async with aiohttp.ClientSession() as http:
        for url in (f"{worker}/v1/tasks", console(s, "/api/tasks")):
            status, body = await status_of(http, "POST", url, tokens["east"], task(WEST))
            assert status == 403, body
            assert body["errors"][0]["field"] in ("location", "courtyard")
        given = {}
        for street in (EAST, WEST):
            status, body = await status_of(http, "POST", f"{worker}/v1/tasks", tokens["district"], task(street))
            assert status == 202, body
            given[street] = body["task"]

        async def listed(token: str) -> set[str]:
            return {t["id"] for t in (await console_get(s, "/api/tasks?status=all", token))["tasks"]}

        async def stored() -> bool:
            return set(given.values()) <= await listed(tokens["district"])

        assert await eventually(stored, 30), "the tasks stored"
        assert given[EAST] in await listed(tokens["east"]) and given[WEST] not in await listed(tokens["east"])
        status, body = await status_of(http, "GET", console(s, f"/api/tasks/{given[WEST]}"), tokens["east"])
        assert status == 404 and body["errors"][0]["field"] == "task"
        status, body = await status_of(http, "GET", f"{worker}/v1/tasks", tokens["east"])
        assert given[WEST] not in {t["id"] for t in body["tasks"]}
        cancel = {"action": "cancel", "reason": "test"}
        status, body = await status_of(http, "POST", f"{worker}/v1/tasks/{given[WEST]}/actions", tokens["east"], cancel)
        assert status == 404 and body["errors"][0]["field"] == "task"  # another street's task, at the worker too
        west_worker_here = {**task(EAST), "device": device[WEST]}  # a place in east, a worker of west
        status, body = await status_of(http, "POST", f"{worker}/v1/tasks", tokens["east"], west_worker_here)
        assert status == 403 and body["errors"][0]["field"] == "device", body


async def test_12345_orders_the_daily_patrol_and_who_was_here_keep_to_the_street(district):
    s, geometry, tokens, _ = district
    dispatched = datetime.now(UTC)
    orders = {street: f"{RUN}-{street}-order" for street in (EAST, WEST)}
    conn = await asyncpg.connect(s.database_url)
    try:
        await insert_orders(
            conn,
            [
                order(orders[EAST], "c01", dispatched, street_id=EAST),
                order(orders[WEST], "c08", dispatched, street_id=WEST),
            ],
        )
    finally:
        await conn.close()

    async def seen(path: str, token: str, key: str, field: str) -> set[str]:
        return {row[field] for row in (await console_get(s, path, token))[key]}

    assert await seen("/api/hotline/orders", tokens["east"], "orders", "id") == {orders[EAST]}
    assert await seen("/api/hotline/orders", tokens["district"], "orders", "id") == set(orders.values())
    rated = await console_get(s, "/api/hotline/rates", tokens["east"])
    assert {r["key"] for r in rated["rates"]} == {"c01"} and rated["street"]["key"] == EAST
    assert await seen("/api/hotline/rates", tokens["district"], "rates", "key") == {"c01", "c08"}
    whole = await console_get(s, "/api/hotline/rates", tokens["district"])
    assert (whole["street"]["key"], whole["street"]["n"], whole["whole"]) == ("district", 2, "全区")
    assert rated["whole"] == "街道"
    grids = {
        street: await seen("/api/patrol/day", tokens[who], "workers", "grid")
        for street, who in ((EAST, "east"), (None, "district"))
    }
    assert {geometry.street_of(g) for g in grids[EAST]} == {EAST}
    assert {geometry.street_of(g) for g in grids[None]} == {EAST, WEST}
    west_grid = next(g for g in geometry.grids if geometry.street_of(g) == WEST)
    window = urlencode(
        {"grid": west_grid, "from": (dispatched - timedelta(hours=1)).isoformat(), "to": dispatched.isoformat()}
    )
    async with aiohttp.ClientSession() as http:
        status, body = await status_of(http, "GET", console(s, f"/api/presence?{window}"), tokens["east"])
        assert status == 403 and body["errors"][0]["field"] == "grid"
        assert (await status_of(http, "GET", console(s, f"/api/presence?{window}"), tokens["district"]))[0] == 200


async def test_a_streets_weekly_report_is_read_by_its_street_and_the_district_only(district):
    s, _, tokens, _ = district
    week, made = "2036-W10", datetime(2036, 3, 10, 0, 5, tzinfo=UTC)
    pool = await open_pool(s.database_dsn, max_size=1)
    try:
        for street in (EAST, WEST):
            assert await claim(pool, street, week, RUN, made)
            report = await FixedMaker()(pool, s, week, street)
            assert await store(pool, street, week, RUN, report, f"report:weekly:{street}:{week}", made)
            await mark_announced(pool, street, week, made)
    finally:
        await pool.close()
    async with aiohttp.ClientSession() as http:
        status, body = await status_of(http, "GET", console(s, "/api/reports"), tokens["east"])
        assert (status, body["street"], [r["week"] for r in body["reports"]]) == (200, EAST, [week])
        assert [x["id"] for x in body["streets"]] == [EAST]  # the street's own, nothing to pick
        for path in (f"/api/reports?street={WEST}", f"/reports/{week}.html?street={WEST}"):
            status, body = await status_of(http, "GET", console(s, path), tokens["east"])
            assert status == 404 and body["errors"][0]["field"] == "street", path
        status, body = await status_of(http, "GET", console(s, f"/api/reports?street={WEST}"), tokens["district"])
        assert (status, body["street"]) == (200, WEST)
        picks = [x["id"] for x in body["streets"]]
        assert (picks[0], set(picks[1:])) == (DISTRICT, {EAST, WEST})  # 全区 first, then the streets
        assert body["reports"][0]["html"] == f"/reports/{week}.html?street={WEST}"  # the link opens west's
        async with http.get(console(s, f"/reports/{week}.pdf?street={WEST}"), headers=bearer(tokens["district"])) as r:
            assert r.status == 200 and await r.read() == b"%PDF-1.7 " + week.encode()
