"""The geofence/escalation worker killed with SIGKILL under load and restarted: no accepted report, ping,
incident transition or alert is lost, and no endpoint that acknowledged an alert is sent it again."""

from __future__ import annotations

import asyncio
import collections
import time
from datetime import UTC, datetime, timedelta

import pytest

from schemas import json
from streams.topics import read_topic
from tests.faults.checks import everything_stored, explain_missing, ids_on_topic
from tests.faults.load import Accepted, KafkaDevices, RecordingSimulator
from tests.faults.routing_file import routing
from tests.support.receiver import start_receiver
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

LOAD_BEFORE_KILL = 6.0
LOAD_AFTER_RESTART = 5.0


@pytest.mark.parametrize(
    "dead",
    [
        pytest.param((6.0,), id="dead-6s"),  # a backlog builds up while the worker is away
        pytest.param((1.0, 6.0), id="back-in-1s-then-dead-6s"),  # within the killed member's session
    ],
)
async def test_worker_killed_under_load_loses_nothing(fault_settings, processes, fault_pg, dead):
    s = fault_settings
    receiver, runner = await start_receiver(s.webhook_secret)
    s.routing_path.write_text(routing({"fault": receiver.url("/json/fault")}))
    since = datetime.now(UTC) - timedelta(seconds=1)
    accepted, stop = Accepted(), asyncio.Event()
    try:
        await processes.start()
        simulator = RecordingSimulator(s, processes.ingest_url, accepted)
        kafka = KafkaDevices(s, accepted)
        load = [asyncio.create_task(simulator.run(stop)), asyncio.create_task(kafka.run(stop))]
        for seconds in dead[:-1]:
            await asyncio.sleep(LOAD_BEFORE_KILL)
            processes.worker.kill()
            await asyncio.sleep(seconds)
            processes.worker.start()
            await processes.ready("worker")
        await asyncio.sleep(LOAD_BEFORE_KILL)
        processes.worker.kill()
        await asyncio.sleep(dead[-1])
        processes.worker.start()
        restarted = time.monotonic()
        backlog = Accepted(pings=set(accepted.pings), reports=set(accepted.reports))
        await processes.ready("worker")
        await asyncio.sleep(LOAD_AFTER_RESTART)
        stop.set()
        await asyncio.gather(*load)
        caught_up = await eventually(lambda: everything_stored(fault_pg, backlog, since), 40)
        catch_up = time.monotonic() - restarted
        assert caught_up, await explain_missing(s, fault_pg, backlog, since)
        print(
            f"\nworker SIGKILL {len(dead)}x (dead {', '.join(f'{d:.0f} s' for d in dead)}); backlog of "
            f"{len(backlog.pings)} pings and {len(backlog.reports)} reports in Postgres {catch_up:.1f} s after the restart; load: "
            f"{len(accepted.pings)} pings, {len(accepted.reports)} reports accepted, "
            f"{simulator.stats.upload_retries} HTTP retries"
        )
        assert await eventually(lambda: everything_stored(fault_pg, accepted, since), 30), await explain_missing(
            s, fault_pg, accepted, since
        )
        await check_incidents_and_alerts(s, fault_pg, accepted, receiver)
    finally:
        stop.set()
        processes.stop()
        await runner.cleanup()


async def check_incidents_and_alerts(s, pg, accepted: Accepted, receiver) -> None:
    """Every stored report is in exactly one incident; every transition is in Postgres once; every alert
    on the topic reached the endpoint, which acknowledged each exactly once."""
    reports = set(accepted.reports) | {
        r["id"] for r in await pg.fetch("SELECT id FROM reports WHERE id = ANY($1)", list(accepted.unsure_reports))
    }

    async def linked():
        return {
            r["report_id"]
            for r in await pg.fetch("SELECT report_id FROM incident_reports WHERE report_id = ANY($1)", list(reports))
        } == reports

    async def incident_events() -> dict[str, dict]:
        return {
            (e := json.loads(record.value) | {"at": f"{record.partition}@{record.offset}"})["id"]: e
            async for record in read_topic(s, s.topic_incidents)
        }

    linked_in_time = await eventually(linked, 20)
    events = await incident_events()  # after the sink linked them: every event it wrote is on the topic by now
    if not linked_in_time:
        unlinked = reports - {e.get("report") for e in events.values()}
        places = [
            tuple(r)
            for r in await pg.fetch(
                "SELECT id, community_id, grid_id, event_time FROM reports WHERE id = ANY($1)", list(unlinked)
            )
        ]
        pytest.fail(
            f"{len(unlinked)} of {len(reports)} reports in no incident: {places[:4]}; "
            f"on {s.topic_located_reports}: {await ids_on_topic(s, s.topic_located_reports, unlinked)}"
        )
    rows = {r["id"] for r in await pg.fetch("SELECT id FROM incident_events WHERE id = ANY($1)", list(events))}
    assert rows == set(events), f"transitions not in Postgres: {sorted(set(events) - rows)[:5]}"
    per_report = collections.Counter(e["report"] for e in events.values() if e.get("report"))
    twice = [r for r, n in per_report.items() if n > 1]
    assert set(per_report) == reports and not twice, "reports with more than one transition: " + "; ".join(
        f"{r}: "
        + ", ".join(
            f"{e['kind']} {e['incident']}#{e.get('seq')} {e['when']} at {e['at']}"
            for e in events.values()
            if e.get("report") == r
        )
        for r in twice[:5]
    )
    opened = {f"{e['id']}:incident_opened" for e in events.values() if e["kind"] == "opened"}

    async def alerts_on_topic() -> set[str]:
        return {json.loads(r.value)["id"] async for r in read_topic(s, s.topic_alerts)}

    async def opened_alerted():  # an event and its alert are sent together, but land on two topics
        return opened <= await alerts_on_topic()

    await eventually(opened_alerted, 10)
    alerts = await alerts_on_topic()
    assert opened <= alerts, f"opened incidents without their alert: {sorted(opened - alerts)[:5]}"

    async def all_taken():
        return alerts <= set(receiver.alert_ids())

    if not await eventually(all_taken, 30):
        missing = sorted(alerts - set(receiver.alert_ids()))
        attempts = await pg.fetch(
            "SELECT alert_id, attempt, outcome, error FROM alert_deliveries WHERE alert_id = ANY($1)", missing
        )
        pytest.fail(
            f"{len(missing)} alerts never delivered: {missing[:5]}; their attempts: {[tuple(r) for r in attempts]}; "
            f"on {s.topic_alerts} at {await ids_on_topic(s, s.topic_alerts, set(missing))}"
        )
    await asyncio.sleep(1)  # a second notice, if one were coming, has had time to arrive
    taken = collections.Counter(receiver.alert_ids())
    twice = [a for a, n in taken.items() if n > 1]
    assert not twice, f"alerts acknowledged and sent again: {twice[:5]}"
    print(
        f"worker SIGKILL: {len(reports)} reports in {len(events)} incident transitions, {len(alerts)} alerts, "
        f"each delivered once"
    )
