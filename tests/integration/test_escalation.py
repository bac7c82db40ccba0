"""The escalation engine in a real worker on the real broker, with Postgres: ~200 reports over six
simulated hours (REDWALL_CLOCK=event), actions over HTTP, and a worker killed mid-scenario.

The expected outcome comes from the pure engine run in this process over the same records in the same
per-partition order (a model), plus hand-made incidents whose fate is stated outright."""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from config.major_events import Period
from schemas import json
from sinks.credentials import issue_dispatcher_token
from streams.demo.processes import settings_env
from streams.escalation.control import broadcast, tick
from streams.escalation.engine import incident_id
from streams.patrol.agents import partition_of
from streams.topics import read_topic
from tests.support import factories
from tests.support.event_time import event_time_street
from tests.support.incident_factories import PLAIN, T0, ZONE, Model, action, located, nearby, produce_reports

pytestmark = pytest.mark.integration

H = timedelta(hours=1)
M = timedelta(minutes=1)


def phase_one(run: str) -> tuple[list[dict], dict[str, str]]:
    """200 reports in time order over two hours: hand-made ones (named) and random background."""
    named = {
        "A": located(f"{run}-A", "sanitation", "high", PLAIN, T0 + 5 * M),  # community; never acked
        "F": located(f"{run}-F", "safety_hazard", "critical", nearby(PLAIN, 60), T0 + 20 * M),  # ceiling rule
        "E": located(f"{run}-E", "dispute", "low", ZONE, T0 + 30 * M),  # sensitive zone
        "G": located(f"{run}-G", "facility_damage", "low", nearby(PLAIN, 80), T0 + 40 * M),
        "C": located(f"{run}-C", "dispute", "high", nearby(PLAIN, 3), T0 + 105 * M),  # asks for the street
        "B": located(f"{run}-B", "group_renting", "high", nearby(PLAIN, -3), T0 + 110 * M),  # acked in time
        "H": located(f"{run}-H", "underground_space", "high", nearby(PLAIN, 5), T0 + 115 * M),  # due after restart
    }
    cluster = [
        located(f"{run}-K{n}", "illegal_parking", "low", nearby(PLAIN, n), T0 + (50 + 5 * n) * M) for n in range(5)
    ]
    rng = random.Random(run)
    background = []
    # Categories none of the named incidents has, so the background never joins them.
    categories = ["public_sentiment", "new_resident", "hotline_12345", "other"]
    for n in range(200 - len(named) - len(cluster)):
        lat, lng = factories.random_point(rng)
        background.append(
            located(
                f"{run}-bg{n:03d}",
                rng.choice(categories),
                rng.choice(["low", "medium"]),
                (lat, lng),
                T0 + timedelta(seconds=rng.randrange(0, 7200)),
                f"dev-{n % 80:04d}",
            )
        )
    reports = sorted([*named.values(), *cluster, *background], key=lambda r: r["event_time"])
    return reports, {k: v["id"] for k, v in named.items()}


async def post_actions(session, url: str, actions: list[dict], model: Model) -> None:
    """Each answered with the engine's verdict, the one the model came to: done (200) or refused (409)."""
    verdicts = {e["action"]: e["kind"] for e in model.events if e.get("action")}
    for a in actions:
        body = {k: v for k, v in a.items() if k != "incident"}
        async with session.post(f"{url}/v1/incidents/{a['incident']}/actions", json=body) as response:
            expected = 409 if verdicts[a["id"]] == "action_rejected" else 200
            assert response.status == expected, await response.text()


async def wait_events(pg, ids: list[str], expected: int, timeout: float = 90.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = await pg.fetchval("SELECT count(*) FROM incident_events WHERE incident_id = ANY($1)", ids)
        if count >= expected or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.3)


@pytest.fixture
async def isolated(settings, tmp_path):
    """Settings of the test's own: its own topics (no other test's reports), event time, own ports."""
    async with event_time_street(settings, tmp_path, "esc") as street:
        yield street


async def test_two_hundred_reports_six_hours_actions_and_a_restart(isolated, pg):
    run, s, worker = isolated
    url = f"http://{s.web_host}:{s.web_port}"
    model = Model(s.partitions)
    reports, named = phase_one(run)
    for r in reports:
        model.report(r)
    inc = {k: model.incident(v).id for k, v in named.items()}
    await produce_reports(s, reports)
    ids = lambda: sorted({e["incident"] for e in model.events})  # noqa: E731
    assert await wait_events(pg, ids(), len(model.events)) == len(model.events)

    # Phase two, over HTTP at 2:05: an ack in time, a request to the street, a resolve and an ack on
    # the resolved incident (refused), and a resolve for every third open background incident.
    at = T0 + 2 * H + 5 * M
    open_bg = sorted(
        i.id for e in model.engines for i in e.incidents.values() if i.status == "assigned" and i.id not in inc.values()
    )
    acts = [
        action(f"{run}-a1", inc["B"], "ack", at),
        action(f"{run}-a2", inc["C"], "request_escalation", at),
        action(f"{run}-a3", inc["G"], "resolve", at),
        action(f"{run}-a4", inc["G"], "ack", at + M),
    ]
    acts += [action(f"{run}-r{n}", i, "resolve", at + 2 * M) for n, i in enumerate(open_bg[::3])]
    for a in acts:
        model.action(a)
    bad_action = json.dumps({"id": f"{run}-bad", "incident": inc["A"], "action": "bless"})
    producer = AIOKafkaProducer(bootstrap_servers=s.broker)
    await producer.start()
    await producer.send_and_wait(s.topic_actions, bad_action, key=b"c03")
    await producer.stop()
    # The street dispatcher "staff-1" (the actor of the model's actions): the worker records its name.
    dispatcher = await issue_dispatcher_token(s.database_url, "staff-1", "street")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {dispatcher}"}) as session:
        await post_actions(session, url, acts, model)
        async with session.post(f"{url}/v1/incidents/{inc['A']}/actions", json={"action": "ack"}) as bad:
            assert bad.status == 422 and (await bad.json())["errors"][0]["field"] == "reason"
        async with session.post(f"{url}/v1/incidents/inc-c99-0123456789ab/actions", json={}) as unknown:
            assert unknown.status == 404 and "c99" in (await unknown.json())["errors"][0]["reason"]
    # A major-event period from the CLI, for 6:00-7:00: it must survive the restart below.
    drill = T0 + 6 * H
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "major-event",
            "start",
            f"{run}-drill",
            "--hours",
            "1",
            "--factor",
            "0.5",
            "--start",
            drill.isoformat(),
        ],
        env=settings_env(s),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0 and f"sent to {s.partitions} partitions" in cli.stdout, cli.stderr
    for engine in model.engines:
        engine.apply_period(Period(f"{run}-drill", f"{run}-drill", drill, drill + H, 0.5))
    assert await wait_events(pg, ids(), len(model.events)) == len(model.events)
    pending = model.incident(named["H"])
    assert pending.status == "assigned" and pending.ack_by == T0 + 115 * M + H  # due after the restart

    # Kill the worker with deadlines open; time moves on (ticks every 15 min to 6:00) while it is down.
    worker.kill()
    ticks = [T0 + 2 * H + 15 * M * k for k in range(1, 17)]
    for when in ticks:
        model.tick(when)
        await broadcast(s, tick(when))
    worker.start()
    worker.wait_http(f"http://127.0.0.1:{s.worker_metrics_port}/metrics")
    assert await wait_events(pg, ids(), len(model.events)) == len(model.events)

    # Phase four at 6:05: reopen the resolved one; then the last tick.
    reopen = action(f"{run}-a5", inc["G"], "reopen", T0 + 6 * H + 5 * M)
    model.action(reopen)
    model.tick(T0 + 6 * H + 30 * M)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {dispatcher}"}) as session:
        await post_actions(session, url, [reopen], model)  # the restarted worker loaded the credential afresh
    await broadcast(s, tick(T0 + 6 * H + 30 * M))
    assert await wait_events(pg, ids(), len(model.events)) == len(model.events)

    # The exact sets: every incident event and every alert, each exactly once on its topic.
    topic_events = [json.loads(r.value) async for r in read_topic(s, s.topic_incidents)]
    topic_alerts = [json.loads(r.value) async for r in read_topic(s, s.topic_alerts)]
    assert sorted(e["id"] for e in topic_events) == sorted(e["id"] for e in model.events)
    assert sorted(a["id"] for a in topic_alerts) == sorted(a["id"] for a in model.alerts)
    assert {e["id"]: (e["kind"], e["when"], e.get("to_level")) for e in topic_events} == {
        e["id"]: (e["kind"], e["when"], e.get("to_level")) for e in model.events
    }

    rows = await pg.fetch(
        "SELECT id, status, level, owner, report_count, ceiling_exceeded FROM incidents WHERE id = ANY($1)", ids()
    )
    final = {
        i.id: (i.status, i.level, i.owner, i.reports, "ceiling_exceeded" in i.flags)
        for e in model.engines
        for i in e.incidents.values()
    }
    assert {r["id"]: tuple(r)[1:] for r in rows} == final
    assert await pg.fetchval("SELECT count(*) FROM incident_reports WHERE report_id LIKE $1", f"{run}-%") == 200

    # The hand-made incidents, stated outright.
    history = {k: [e for e in model.events if e["incident"] == v] for k, v in inc.items()}
    a_up = [e for e in history["A"] if e["kind"] == "escalated"][0]
    assert (a_up["from_level"], a_up["to_level"], a_up["when"]) == ("community", "street", (T0 + 65 * M).isoformat())
    assert {(a["kind"], a["owner"]) for a in topic_alerts if a["id"].startswith(a_up["id"])} == {
        ("deadline_breached", "c03"),
        ("incident_escalated", "xichangan"),
    }
    assert [e["kind"] for e in history["B"]] == ["opened", "acknowledged"]
    assert [e["reason_code"] for e in history["C"] if e["kind"] == "escalated"] == ["request"]
    assert final[inc["E"]][1] == "street" and history["E"][0]["state"]["priority"] == "top"
    assert final[inc["F"]][1] == "district" and final[inc["F"]][4] is True
    assert [e["kind"] for e in history["G"] if e["kind"] != "warned"][-3:] == [
        "resolved",
        "action_rejected",
        "reopened",
    ]
    assert history["G"][-1]["state"]["ack_by"] == (T0 + 6 * H + 35 * M).isoformat()  # the drill halves 1 h
    h_up = [e for e in history["H"] if e["kind"] == "escalated"][0]
    assert h_up["when"] == (T0 + 175 * M).isoformat()  # the deadline open at the kill fired after the restart
    assert any(a["id"].startswith(h_up["id"]) for a in topic_alerts)
    k_up = [e for e in model.events if e["incident"] == model.incident(f"{run}-K0").id and e["kind"] == "escalated"]
    assert k_up[0]["reason_code"] == "cluster"
    letters = [json.loads(r.value) async for r in read_topic(s, s.topic_deadletter)]
    # Every wrong field of the action is named: the wrong value first, then what it lacks.
    assert [(d["source_topic"], [e["field"] for e in d["errors"]]) for d in letters] == [
        (s.topic_actions, ["action", "actor", "reason", "time"])
    ]
    weekly = await pg.fetch("SELECT incidents FROM weekly_ceiling_exceeded WHERE $1 = ANY(incidents)", inc["F"])
    assert len(weekly) == 1


async def test_a_report_outside_every_street_is_counted_logged_queued_and_placed_by_the_street(isolated, pg):
    """Seen: a valid report outside every street was accepted, stored with no place, and then appeared
    nowhere: no incident, alert, log line or counter."""
    run, s, worker = isolated
    url = f"http://{s.web_host}:{s.web_port}"
    report = {
        "id": f"{run}-out",
        "device": "dev-0001",
        "category": "dispute",
        "severity": "low",
        "text": "门口争吵 / quarrel at the gate",
        "location": {"lat": 39.93, "lng": 116.41, "accuracy": 30.0},
        "event_time": T0.isoformat(),
    }
    producer = AIOKafkaProducer(bootstrap_servers=s.broker)
    await producer.start()
    await producer.send_and_wait(s.topic_reports, json.dumps(report), key=b"dev-0001")
    await producer.stop()
    queued, placed = incident_id("unlocated", report["id"]), incident_id("c03", report["id"])
    assert await wait_events(pg, [queued], 1) == 1
    row = await pg.fetchrow("SELECT status, level, owner, community_id, grid_id FROM incidents WHERE id = $1", queued)
    assert tuple(row) == ("assigned", "street", "xichangan", "unlocated", None)
    ops = f"http://127.0.0.1:{s.worker_metrics_port}"
    metrics = await asyncio.to_thread(lambda: urllib.request.urlopen(f"{ops}/metrics", timeout=5).read().decode())
    # Counted as the geofence handles it: at least once (a batch redelivered after a rebalance counts again).
    assert float(re.search(r"^redwall_reports_outside_total (\S+)$", metrics, re.M).group(1)) >= 1
    assert "report outside every street" in worker.log_path.read_text()
    alerts = [json.loads(r.value) async for r in read_topic(s, s.topic_alerts)]
    assert [(a["kind"], a["owner"], a["community"]) for a in alerts if a["incident"] == queued] == [
        ("incident_opened", "xichangan", "unlocated")
    ]

    street = await issue_dispatcher_token(s.database_url, f"{run}-street", "street")
    community = await issue_dispatcher_token(s.database_url, f"{run}-c03", "community", "c03")
    body = {
        "action": "reassign",
        "owner": "c03-g02",
        "reason": "定位偏差，实为 c03-g02 门口",
        "time": (T0 + 5 * M).isoformat(),
    }  # the event clock: within the deadlines
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{url}/v1/incidents/{queued}/actions", json=body, headers={"Authorization": f"Bearer {community}"}
        ) as refused:
            assert refused.status == 403  # a community's dispatchers do not act on the street's queue
        async with session.post(
            f"{url}/v1/incidents/{queued}/actions", json=body, headers={"Authorization": f"Bearer {street}"}
        ) as taken:
            assert taken.status == 200, await taken.text()
            assert (await taken.json())["verdict"] == "closed"  # the queue's incident closes; the placed one opens
    assert await wait_events(pg, [queued, placed], 3) == 3
    history = await pg.fetch(
        "SELECT incident_id, kind, reason FROM incident_events WHERE incident_id = ANY($1) ORDER BY incident_id, seq",
        [queued, placed],
    )
    assert [(h["incident_id"], h["kind"]) for h in history] == [
        (placed, "opened"),
        (queued, "opened"),
        (queued, "closed"),
    ]
    assert history[2]["reason"].startswith(f"已指派到社区 c03（网格 c03-g02），在该社区立案（{placed}）")

    async def settled():
        place = await pg.fetchrow("SELECT community_id, grid_id FROM reports WHERE id = $1", report["id"])
        link = await pg.fetchval("SELECT incident_id FROM incident_reports WHERE report_id = $1", report["id"])
        return place is not None and tuple(place) == ("c03", "c03-g02") and link == placed

    deadline = time.monotonic() + 30
    while not await settled():
        assert time.monotonic() < deadline, "the report's place and link did not follow the placement"
        await asyncio.sleep(0.3)


# A few metres apart, across the border of c01 and c02 (one street): 0.00004° of longitude is about 3.4 m.
BORDER_C01, BORDER_C02 = (39.8969, 116.37028), (39.8969, 116.37032)


async def test_reports_a_few_metres_apart_across_a_community_border_join_one_incident(isolated, pg):
    """Keyed by street, the two reports meet on one partition and one engine; keyed by community they went to
    c01's and c02's partitions (apart on the test's 4 partitions), and each opened an incident of its own."""
    run, s, _ = isolated
    first = located(f"{run}-W1", "illegal_parking", "low", BORDER_C01, T0)
    second = located(f"{run}-W2", "illegal_parking", "low", BORDER_C02, T0 + M)
    assert (first["community"], second["community"], first["street"]) == ("c01", "c02", second["street"])
    assert partition_of("c01", s.partitions) != partition_of("c02", s.partitions)
    await produce_reports(s, [first, second])
    opened = incident_id("c01", first["id"])
    assert await wait_events(pg, [opened], 2) == 2
    kinds = await pg.fetch("SELECT kind FROM incident_events WHERE incident_id = $1 ORDER BY seq", opened)
    assert [r["kind"] for r in kinds] == ["opened", "report_merged"]
    linked = await pg.fetch(
        "SELECT report_id, incident_id FROM incident_reports WHERE report_id = ANY($1) ORDER BY report_id",
        [first["id"], second["id"]],
    )
    assert [tuple(r) for r in linked] == [(first["id"], opened), (second["id"], opened)]
    wanted = {first["id"], second["id"]}
    records = [r async for r in read_topic(s, s.topic_located_reports) if json.loads(r.value)["id"] in wanted]
    assert {(r.key, r.partition) for r in records} == {(b"xichangan", partition_of("xichangan", s.partitions))}
