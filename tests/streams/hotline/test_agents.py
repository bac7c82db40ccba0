"""The hotline agent in a real worker on the real broker: orders placed each way reach the located topic,
their reports the located reports, and the escalation engine opens an incident for each (an order near
an open incident of its category joins it); events pass on unchanged; garbage goes to the dead letters
and the next good record still goes through."""

from __future__ import annotations

import asyncio
import dataclasses
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from schemas import json
from schemas.hotline import LocatedHotlineOrder
from schemas.records import Alert, LocatedReport
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics, read_topic
from tests.support.factories import oracle_place
from tests.support.hotline import ADDRESS, OUTSIDE, PLAIN, event, insert_order, order
from tests.support.incident_factories import nearby
from tests.support.scratch import scratch_schema
from tests.support.topics import own_topics
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

H = timedelta(hours=1)


@pytest.fixture
def isolated(settings, tmp_path):
    """A worker on topics of the test's own, on the wall clock (orders dispatched now)."""
    run = f"hot{uuid.uuid4().hex[:6]}"
    mine = dataclasses.replace(
        settings, web_port=free_port(), worker_metrics_port=free_port(), **own_topics(settings, run)
    )
    return run, mine


async def produce(settings, records: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.broker)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(settings.topic_hotline, value, key=key.encode())
    finally:
        await producer.stop()


async def records(settings, topic: str) -> list[dict]:
    return [json.loads(r.value) async for r in read_topic(settings, topic, idle_seconds=0.5)]


async def incident_events(settings, *reports: str) -> list[dict]:
    return [e for e in await records(settings, settings.topic_incidents) if e.get("report") in reports]


async def test_orders_placed_each_way_become_reports_and_incidents_and_garbage_a_dead_letter(isolated, tmp_path):
    run, s = isolated
    await ensure_topics(s)
    now = datetime.now(UTC)
    ids = {way: f"{run}-{way}" for way in ("loc", "near", "grid", "com", "addr", "none", "after")}
    orders = {
        "loc": order(ids["loc"], at=now, location=PLAIN),
        "grid": order(ids["grid"], at=now, platform_grid="钟声社区第2网格", location=OUTSIDE),
        "com": order(ids["com"], at=now, platform_community="c09"),
        "addr": order(ids["addr"], at=now, address=ADDRESS[0]),
        "none": order(ids["none"], at=now, address="无此地址"),
    }
    worker = RedwallProcess("worker", s, tmp_path).start()
    try:
        worker.wait_http(f"http://127.0.0.1:{s.worker_metrics_port}/metrics")
        await produce(s, [(o["id"], json.dumps(o)) for o in orders.values()])
        opened = await eventually(lambda: _opened(s, ids, orders), 90)
        assert opened, worker.log_tail()

        # Placed, each its own way; each report opened its own incident (the unlocated one in the street's queue).
        located = {r["id"]: LocatedHotlineOrder.validate(r) for r in await records(s, s.topic_hotline_located)}
        places = {
            way: (located[i]["placed_by"], located[i]["community"], located[i].get("grid"))
            for way, i in ids.items()
            if i in located
        }
        assert places == {
            "loc": ("location", "c03", "c03-g01"),
            "grid": ("grid", "c07", "c07-g02"),
            "com": ("community", "c09", None),
            "addr": ("address", *oracle_place(*ADDRESS[1])),
            "none": ("unlocated", "unlocated", None),
        }
        reports = {r["order"]: LocatedReport.validate(r) for r in await records(s, s.topic_located_reports)}
        assert {reports[i]["id"] for i in located} == {f"12345-{i}" for i in located}
        assert {r: e["community"] for r, e in opened.items()} == {
            f"12345-{i}": located[i]["community"] for i in located
        }

        # A second order near the first, same category: merged into its incident. Then garbage, an
        # event of the first order, and a good order after them.
        near = order(ids["near"], at=now, location=nearby(PLAIN, 1))
        after = order(ids["after"], at=now, location=PLAIN, code="0401")
        contacted = event(f"{run}-ev1", ids["loc"], "contacted", now)
        await produce(
            s,
            [(ids["near"], json.dumps(near)), ("junk", b"{not json"), (ids["loc"], json.dumps(contacted)),
             (ids["after"], json.dumps(after))],
        )  # fmt: skip
        merged = await eventually(lambda: _kind_of(s, f"12345-{ids['near']}", "report_merged"), 60)
        assert merged and merged["incident"] == opened[f"12345-{ids['loc']}"]["incident"], worker.log_tail()
        assert await eventually(lambda: _kind_of(s, f"12345-{ids['after']}", "opened"), 60)
        forwarded = [r for r in await records(s, s.topic_hotline_located) if r.get("type") == "event"]
        assert forwarded == [contacted]
        letters = [json.loads(r.value) async for r in read_topic(s, s.topic_deadletter, idle_seconds=0.5)]
        assert [(d["source_topic"], d["errors"][0]["field"]) for d in letters] == [(s.topic_hotline, "(body)")]
        metrics = _samples(worker_metrics(s), s.topic_hotline)
        # Each way of placing is checked on the records above; the counters count handlings (at least once).
        assert metrics[("redwall_hotline_orders_total", "location")] >= 3.0
        assert metrics[("redwall_hotline_orders_total", "unlocated")] >= 1.0
        assert metrics[("redwall_events_ingested_total", s.topic_hotline)] >= 8.0  # 7 orders, 1 event
        assert metrics[("redwall_deadletters_total", s.topic_hotline)] == 1.0
    finally:
        worker.stop()


async def test_the_clocks_timer_in_a_worker_alerts_each_stage_of_a_due_order_once(isolated, pg, database_url, tmp_path):
    run, s = isolated
    now = datetime.now(UTC).replace(microsecond=0)
    due = {"dispatched_at": now - 3 * H, "contact_by": now - H, "resolve_by": now + 24 * H}
    async with scratch_schema(pg, database_url) as dsn:  # the worker sees only this test's orders
        s = dataclasses.replace(s, database_url=dsn, hotline_clock_seconds=0.5)
        await ensure_topics(s)
        conn = await asyncpg.connect(dsn)
        try:
            await insert_order(conn, f"{run}-due", community_id="unlocated", grid_id=None, urgency="emergency", **due)
            await insert_order(conn, f"{run}-done", **due, contacted_at=now - 2 * H)
            await insert_order(conn, f"{run}-old")  # limits passed weeks ago: stale, pages nobody
        finally:
            await conn.close()
        worker = RedwallProcess("worker", s, tmp_path).start()
        try:
            worker.wait_http(f"http://127.0.0.1:{s.worker_metrics_port}/metrics")
            sent = await eventually(lambda: _clock_alerts(s, run, 1), 60)
            assert sent, worker.log_tail()
            await asyncio.sleep(3)  # several more ticks: nothing is sent twice
            alerts = [Alert.validate(a) for a in await _clock_alerts(s, run, 0)]
        finally:
            worker.stop()
    assert [a["id"] for a in alerts] == [f"hotline:{run}-due:contact:breach:{(now - H):%Y%m%dT%H%M%SZ}"]
    assert (alerts[0]["level"], alerts[0]["owner"], alerts[0]["priority"]) == ("street", "xichangan", "top")


async def _clock_alerts(s, run: str, at_least: int) -> list[dict]:
    found = [a for a in await records(s, s.topic_alerts) if a.get("order", "").startswith(run)]
    return found if len(found) >= at_least else []


async def _opened(s, ids: dict, orders: dict) -> dict | None:
    wanted = {f"12345-{ids[way]}" for way in orders}
    found = {e["report"]: e for e in await incident_events(s, *wanted) if e["kind"] == "opened"}
    return found if set(found) == wanted else None


async def _kind_of(s, report: str, kind: str) -> dict | None:
    return next((e for e in await incident_events(s, report) if e["kind"] == kind), None)


def worker_metrics(s) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{s.worker_metrics_port}/metrics", timeout=10) as response:
        return response.read().decode()


def _samples(text: str, topic: str) -> dict:
    """Counters of the hotline's orders by placed_by, and of its input topic by name."""
    return {
        (sample.name, sample.labels.get("placed_by") or sample.labels.get("topic")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "redwall_hotline_orders_total" or sample.labels.get("topic") == topic
    }
