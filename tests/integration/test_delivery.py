"""`redwall deliver` killed with SIGKILL mid-batch and restarted, against the real broker, Postgres and a
real HTTP receiver: every alert is delivered, and no alert is taken twice under different notifications."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import uuid
from collections import defaultdict
from datetime import UTC

import pytest

from config.routing import load_routing
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics
from tests.support.delivery import deliver_until, publish
from tests.support.factories import alert
from tests.support.quick import QUICK_KAFKA
from tests.support.receiver import ids_in, start_receiver

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
ALERTS = 120


async def wait_for(condition, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_a_killed_delivery_process_resumes_without_losing_or_duplicating(settings, tmp_path, pg):
    settings = dataclasses.replace(
        settings,
        topic_alerts=f"kill-alerts-{RUN}",
        topic_alerts_deadletter=f"kill-alerts-dead-{RUN}",
        webhook_secret=f"kill-{RUN}",
        deliver_metrics_port=free_port(),
        routing_path=tmp_path / "routing.toml",
        **QUICK_KAFKA,
    )
    await ensure_topics(settings, (settings.topic_alerts, settings.topic_alerts_deadletter))
    receiver, runner = await start_receiver(settings.webhook_secret)
    rng = random.Random(3)
    receiver.delay = lambda: rng.uniform(0.1, 1.5)  # answers spread out, so the kill lands mid-batch
    settings.routing_path.write_text(
        f'[channels.kill-{RUN}]\ntype = "json"\nurl = "{receiver.url("/json/kill")}"\ntimeout = "5s"\nattempts = 6\n\n'
        f'[route]\nchannels = ["kill-{RUN}"]\ngroup_by = ["incident"]\ngroup_wait = "0s"\n'
    )
    alerts = [alert(f"kill-{RUN}-{i:03d}", incident=f"inc-kill-{RUN}-{i:03d}") for i in range(ALERTS)]
    ids = {a["id"] for a in alerts}
    await publish(settings, alerts)
    deliver = RedwallProcess("deliver", settings, tmp_path)
    try:
        deliver.start()
        await wait_for(lambda: len(set(receiver.alert_ids())) >= ALERTS // 4, 60, "the first deliveries")
        deliver.kill()
        before_kill = len(set(receiver.alert_ids()))
        in_doubt = await pg.fetchval(
            "SELECT count(*) FROM alert_notifications WHERE channel = $1 AND state = 'sending'", f"kill-{RUN}"
        )
        deliver.start()
        delivered = "SELECT count(*) FROM alert_deliveries WHERE channel = $1 AND outcome = 'delivered'"
        deadline = time.monotonic() + 90
        while await pg.fetchval(delivered, f"kill-{RUN}") < ALERTS:
            assert time.monotonic() < deadline, "not every alert was delivered after the restart"
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # anything the restart would send twice has had time to arrive
    finally:
        deliver.stop()
        await runner.cleanup()

    keys_per_alert: dict[str, set[str]] = defaultdict(set)
    taken = receiver.delivered()
    for request in taken:
        for alert_id in (a["id"] for a in request.body["alerts"]):
            keys_per_alert[alert_id].add(request.key)
    assert set(keys_per_alert) == ids
    # Each alert was acknowledged under exactly one idempotency key: the only repeats possible are the
    # requests in flight at the kill, resent under the same key for the endpoint to recognise.
    assert all(len(keys) == 1 for keys in keys_per_alert.values())
    repeats = len(taken) - len({r.key for r in taken})
    assert repeats <= in_doubt
    assert all(r.signed for r in receiver.received)
    assert await pg.fetchval(delivered, f"kill-{RUN}") == ALERTS
    # Once the log holds an alert's success, the endpoint never hears of that alert again.
    recorded = dict(
        await pg.fetch(
            "SELECT alert_id, extract(epoch FROM attempted_at) FROM alert_deliveries "
            "WHERE channel = $1 AND outcome = 'delivered'",
            f"kill-{RUN}",
        )
    )
    late = [
        (i, r.key)
        for r in receiver.received
        for i in (a["id"] for a in r.body["alerts"])
        if r.arrived > float(recorded[i]) + 0.05
    ]
    assert late == []
    print(
        f"\nkilled after {before_kill}/{ALERTS} alerts with {in_doubt} notifications in flight; "
        f"{repeats} resent under their original key"
    )


async def test_reminders_survive_a_restart_and_stop_when_the_incident_is_acknowledged(settings, tmp_path, pg):
    run = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(
        settings,
        topic_alerts=f"remind-alerts-{run}",
        topic_incidents=f"remind-inc-{run}",
        topic_alerts_deadletter=f"remind-dead-{run}",
        webhook_secret=f"remind-{run}",
        **QUICK_KAFKA,
    )
    await ensure_topics(settings, (settings.topic_alerts, settings.topic_incidents, settings.topic_alerts_deadletter))
    receiver, runner = await start_receiver(settings.webhook_secret)
    path = tmp_path / "routing.toml"
    path.write_text(
        f'[channels.remind-{run}]\ntype = "json"\nurl = "{receiver.url("/json/remind")}"\n\n'
        f'[route]\nchannels = ["remind-{run}"]\ngroup_by = ["incident"]\ngroup_wait = "0s"\n'
        f'repeat_interval = "4s"\n'
    )
    routing = load_routing(path)
    acked, open_ = (alert(f"remind-{run}-{n}", incident=f"inc-remind-{run}-{n}") for n in ("acked", "open"))
    await publish(settings, [acked, open_])
    notices = "SELECT count(*) FROM alert_deliveries WHERE channel = $1 AND outcome = 'delivered'"

    async def first_notices() -> bool:
        return await pg.fetchval(notices, f"remind-{run}") == 2

    async def reminded() -> bool:
        return any(a["seq"] == 1 for r in receiver.delivered() for a in r.body["alerts"])

    try:
        await deliver_until(settings, routing, first_notices, group_prefix=f"remind-{run}")
        # Acknowledged while delivery was down: the incident event settles it when delivery is back.
        await publish(
            settings,
            [
                {
                    "id": f"inc-remind-{run}-acked:2",
                    "incident": acked["incident"],
                    "kind": "acknowledged",
                    "state": {"status": "acknowledged"},
                }
            ],
            topic=settings.topic_incidents,
        )
        await deliver_until(settings, routing, reminded, group_prefix=f"remind-{run}")
        await asyncio.sleep(1)
    finally:
        await runner.cleanup()
    seqs = sorted((a["id"], a["seq"]) for r in receiver.delivered() for a in r.body["alerts"])
    assert seqs == [(acked["id"], 0), (open_["id"], 0), (open_["id"], 1)]


async def test_clearances_reach_the_channels_told_of_the_alert_once_through_grouping_and_restarts(
    settings, tmp_path, pg
):
    """Seen: the clearance was on redwall.alerts.v1 but never posted to the webhook."""
    from datetime import datetime, timedelta

    from streams.patrol.coverage import PatrolAlerts

    run = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(
        settings,
        topic_alerts=f"clear-alerts-{run}",
        topic_incidents=f"clear-inc-{run}",
        topic_alerts_deadletter=f"clear-dead-{run}",
        webhook_secret=f"clear-{run}",
        **QUICK_KAFKA,
    )
    await ensure_topics(settings, (settings.topic_alerts, settings.topic_incidents, settings.topic_alerts_deadletter))
    receiver, runner = await start_receiver(settings.webhook_secret)
    path = tmp_path / "routing.toml"
    path.write_text(
        f'[channels.robot-{run}]\ntype = "wecom"\nurl = "{receiver.url("/wecom/clear")}"\n\n'
        f'[channels.json-{run}]\ntype = "json"\nurl = "{receiver.url("/json/clear")}"\n\n'
        f'[channels.mute-{run}]\ntype = "json"\nurl = "{receiver.url("/json/mute")}"\nsend_resolved = false\n\n'
        f'[route]\nchannels = ["robot-{run}", "json-{run}", "mute-{run}"]\ngroup_by = ["grid", "kind"]\n'
        f'group_wait = "0s"\ngroup_interval = "1s"\nrepeat_interval = "1h"\n'
    )
    routing = load_routing(path)
    # Two off-post groups of one grid, as the worker raises them: one delivery group; the first clears.
    patrol = PatrolAlerts(
        timedelta(seconds=1),
        timedelta(seconds=1),
        lambda grid, when: 0,
        lambda grid: ("xichangan", "c01"),
        "Asia/Shanghai",
    )
    now, grid = datetime.now(UTC), f"c01-g{run}"
    s = lambda seconds: now + timedelta(seconds=seconds)  # noqa: E731
    patrol.status("d1", grid, "off_post", s(-20), s(-20))
    first = patrol.tick([grid], s(-18), s(-18))
    patrol.status("d2", grid, "off_post", s(-10), s(-10))
    second = patrol.tick([grid], s(-8), s(-8))
    [clearance] = patrol.status("d1", grid, "on_post", s(-1), s(-1))
    assert [a["status"] for a in first + second] == ["firing", "firing"] and clearance["status"] == "resolved"
    firing_ids = sorted(a["id"] for a in first + second)
    paths = ("/wecom/clear", "/json/clear", "/json/mute")

    async def firing_told() -> bool:
        return all(sorted(receiver.alert_ids(p)) == firing_ids for p in paths)

    async def clearance_told() -> bool:
        return all(clearance["id"] in receiver.alert_ids(p) for p in paths[:2])

    try:
        await publish(settings, first + second)
        first_run = await deliver_until(settings, routing, firing_told, group_prefix=f"clear-{run}")
        await publish(settings, [clearance])  # while delivery is down: the restarted one says it
        took = await deliver_until(settings, routing, clearance_told, group_prefix=f"clear-{run}")
        await asyncio.sleep(1.5)  # anything said twice has had time to arrive
        said = len(receiver.received)
        restarted = time.monotonic()

        async def a_while() -> bool:
            return time.monotonic() - restarted > 5

        await deliver_until(settings, routing, a_while, group_prefix=f"clear-{run}")  # and once more
        assert len(receiver.received) == said  # the restarts said nothing again
    finally:
        await runner.cleanup()
    for p in paths[:2]:
        assert receiver.alert_ids(p).count(clearance["id"]) == 1
    assert clearance["id"] not in receiver.alert_ids("/json/mute")
    [robot] = [r for r in receiver.delivered("/wecom/clear") if clearance["id"] in ids_in(r)]
    text = robot.body["markdown"]["content"]
    assert text.startswith("### 【已解除 Resolved】 1\n") and f"**【已解除】{grid} 离岗**" in text
    assert "1 名巡逻人员已回到责任网格：d1" in text
    [cleared] = [r for r in receiver.delivered("/json/clear") if clearance["id"] in ids_in(r)]
    assert cleared.body["status"] == "resolved" and cleared.body["alerts"][0]["status"] == "resolved"
    rows = await pg.fetch(
        "SELECT channel, count(*) AS n FROM alert_deliveries WHERE alert_id = $1 "
        "AND outcome = 'delivered' GROUP BY channel",
        clearance["id"],
    )
    assert {r["channel"]: r["n"] for r in rows} == {f"robot-{run}": 1, f"json-{run}": 1}
    print(
        f"\nclearance said {took:.1f} s after delivery restarted, the alerts {first_run:.1f} s after the first start "
        "(start, rebuild and group join included); once per channel"
    )


async def test_an_alert_read_again_while_its_notice_is_being_sent_is_not_sent_twice(settings, tmp_path, pg):
    # A restarted worker may publish an alert again; if its incident was acknowledged meanwhile, the router no
    # longer holds it as firing and takes the copy as new. The copy must wait for the first notice's outcome.
    run = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(
        settings,
        topic_alerts=f"twice-alerts-{run}",
        topic_incidents=f"twice-inc-{run}",
        topic_alerts_deadletter=f"twice-dead-{run}",
        webhook_secret=f"twice-{run}",
        **QUICK_KAFKA,
    )
    await ensure_topics(settings, (settings.topic_alerts, settings.topic_incidents, settings.topic_alerts_deadletter))
    receiver, runner = await start_receiver(settings.webhook_secret)
    receiver.delay = lambda: 3.0  # the endpoint is slow: the first notice is still being sent
    path = tmp_path / "routing.toml"
    path.write_text(
        f'[channels.twice-{run}]\ntype = "json"\nurl = "{receiver.url("/json/twice")}"\ntimeout = "10s"\n\n'
        f'[route]\nchannels = ["twice-{run}"]\ngroup_by = ["incident"]\ngroup_wait = "0s"\n'
    )
    first = alert(f"twice-{run}", incident=f"inc-twice-{run}")
    delivered = "SELECT count(*) FROM alert_deliveries WHERE channel = $1 AND outcome = 'delivered'"

    async def sending() -> bool:
        return (
            await pg.fetchval(
                "SELECT count(*) FROM alert_notifications WHERE channel = $1 AND state = 'sending'", f"twice-{run}"
            )
            > 0
        )

    async def copy_after_ack() -> None:
        await publish(settings, [first])
        deadline = time.monotonic() + 30
        while not await sending():
            assert time.monotonic() < deadline, "the first notice never began"
            await asyncio.sleep(0.1)
        acked = {"id": f"{first['incident']}:2", "incident": first["incident"], "kind": "acknowledged"}
        await publish(settings, [acked | {"state": {"status": "acknowledged"}}], topic=settings.topic_incidents)
        await asyncio.sleep(0.5)  # read before the copy: the router has let the alert go
        await publish(settings, [first])

    async def settled() -> bool:
        return copy.done() and await pg.fetchval(delivered, f"twice-{run}") >= 1 and time.monotonic() > quiet_until

    copy = asyncio.create_task(copy_after_ack())
    quiet_until = time.monotonic() + 12  # the copy, if it were sent, has reached the slow endpoint by then
    try:
        await deliver_until(settings, load_routing(path), settled, group_prefix=f"twice-{run}", limit=60)
    finally:
        copy.cancel()
        await runner.cleanup()
    assert receiver.alert_ids() == [first["id"]]
