"""Webhook delivery end to end: alerts published to a real topic, delivered by the channel consumers
to a real aiohttp receiver on loopback, every attempt logged in the real Postgres."""

from __future__ import annotations

import base64
import dataclasses
import time
import uuid
from datetime import UTC

import asyncpg
import pytest

from config.routing import load_routing
from schemas import json
from schemas.records import DeadLetter
from sinks.notification import Notification
from sinks.webhook import markdown
from streams.topics import ensure_topics, read_topic
from tests.support.delivery import deliver_until, publish
from tests.support.factories import alert
from tests.support.receiver import Behaviour, start_receiver

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
FORMATS = ("json", "wecom", "dingtalk")


def routing_text(receiver) -> str:
    channels = [
        (f"{fmt}{kind}-{RUN}", fmt, f"/{fmt}{kind}/{RUN}", timeout, attempts)
        for fmt in FORMATS
        for kind, timeout, attempts in (("", "2s", 4), ("-dead", "2s", 3), ("-slow", "300ms", 3))
    ]
    text = "".join(
        f'[channels.{name}]\ntype = "{fmt}"\nurl = "{receiver.url(path)}"\ntimeout = "{timeout}"\n'
        f"attempts = {attempts}\n\n"
        for name, fmt, path, timeout, attempts in channels
    )
    names = ", ".join(f'"{c[0]}"' for c in channels)
    return text + f'[route]\nchannels = [{names}]\ngroup_by = []\ngroup_wait = "0s"\nrepeat_interval = "4h"\n'


@pytest.fixture(scope="module")
async def delivered(settings, tmp_path_factory):
    settings = dataclasses.replace(
        settings,
        topic_alerts=f"test-alerts-{RUN}",
        topic_alerts_deadletter=f"test-alerts-dead-{RUN}",
        webhook_secret=f"s3cret-{RUN}",
    )
    await ensure_topics(settings, (settings.topic_alerts, settings.topic_alerts_deadletter))
    receiver, runner = await start_receiver(settings.webhook_secret)
    for fmt in FORMATS:
        receiver.behaviours[f"/{fmt}/{RUN}"] = Behaviour(fail_first=2)
        receiver.behaviours[f"/{fmt}-dead/{RUN}"] = Behaviour(always_fail=True)
        receiver.behaviours[f"/{fmt}-slow/{RUN}"] = Behaviour(stall_first=1, stall=1.5)
    path = tmp_path_factory.mktemp("routing") / "routing.toml"
    path.write_text(routing_text(receiver))
    routing = load_routing(path)
    alerts = [alert(f"wh-{RUN}-{i}", incident=f"inc-{RUN}-{i}", level="street") for i in range(3)]
    await publish(settings, alerts)
    ids = sorted(a["id"] for a in alerts)

    async def all_done() -> bool:
        got = all(sorted(receiver.alert_ids(f"/{f}{kind}/{RUN}")) == ids for f in FORMATS for kind in ("", "-slow"))
        dead = await conn.fetchval(
            "SELECT count(*) FROM alert_notifications WHERE state = 'dead_lettered' AND channel = ANY($1::text[])",
            [f"{f}-dead-{RUN}" for f in FORMATS],
        )
        return got and dead == len(FORMATS)

    conn = await asyncpg.connect(settings.database_url)
    try:
        await deliver_until(settings, routing, all_done, group_prefix=f"test-deliver-{RUN}")
    finally:
        await conn.close()
    try:
        yield settings, receiver, routing, ids
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_each_format_is_signed_and_retried_then_delivered_exactly_once(delivered, pg, fmt):
    settings, receiver, _, ids = delivered
    requests = [r for r in receiver.received if r.path == f"/{fmt}/{RUN}"]
    assert [r.status for r in requests] == [500, 500, 200]
    assert all(r.signed for r in requests) and len({r.key for r in requests}) == 1 and requests[0].key
    assert sorted(receiver.alert_ids(f"/{fmt}/{RUN}")) == ids
    body = requests[-1].body
    if fmt == "json":
        assert [a["id"] for a in body["alerts"]] == ids and body["alerts"][0]["title"]["zh"] == "新事件：环境卫生"
    else:
        assert body["msgtype"] == "markdown"
        text = body["markdown"]["content" if fmt == "wecom" else "text"]
        assert "新事件：环境卫生" in text and "New incident: sanitation" in text and "级别 街道" in text
        assert "严重程度 一般 · 优先级 普通" in text
    rows = await pg.fetch(
        "SELECT alert_id, attempt, outcome, status_code, latency_ms FROM alert_deliveries "
        "WHERE channel = $1 ORDER BY alert_id, attempt",
        f"{fmt}-{RUN}",
    )
    assert [(r["attempt"], r["outcome"], r["status_code"]) for r in rows] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "delivered", 200),
    ] * 3
    assert all(r["latency_ms"] > 0 for r in rows)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_an_endpoint_that_always_fails_dead_letters_with_every_attempt(delivered, pg, fmt):
    settings, receiver, _, ids = delivered
    channel = f"{fmt}-dead-{RUN}"
    rows = await pg.fetch(
        "SELECT alert_id, attempt, outcome FROM alert_deliveries WHERE channel = $1 ORDER BY alert_id, attempt", channel
    )
    assert [(r["attempt"], r["outcome"]) for r in rows] == [
        (1, "failed"),
        (2, "failed"),
        (3, "failed"),
        (4, "dead_lettered"),
    ] * 3
    assert await pg.fetchval("SELECT state FROM alert_notifications WHERE channel = $1", channel) == "dead_lettered"
    letters = [DeadLetter.decode(r.value) async for r in read_topic(settings, settings.topic_alerts_deadletter)]
    letters = [d for d in letters if base64.b64decode(d["key_b64"]).decode() == channel]
    assert sorted(json.loads(base64.b64decode(d["value_b64"]))["id"] for d in letters) == ids
    assert all(
        channel in d["reason"] and len(d["errors"]) == 3 and "HTTP 500" in d["errors"][0]["reason"] for d in letters
    )
    assert {d["source_topic"] for d in letters} == {settings.topic_alerts}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_timeout_is_a_failed_attempt_and_is_retried(delivered, pg, fmt):
    _, receiver, _, ids = delivered
    rows = await pg.fetch(
        "SELECT attempt, outcome, error FROM alert_deliveries WHERE channel = $1 ORDER BY alert_id, attempt",
        f"{fmt}-slow-{RUN}",
    )
    assert [(r["attempt"], r["outcome"]) for r in rows] == [(1, "timeout"), (2, "delivered")] * 3
    assert "no answer within 0.3 s" in rows[0]["error"]
    assert sorted(receiver.alert_ids(f"/{fmt}-slow/{RUN}")) == ids


async def test_a_reread_never_resends_what_an_endpoint_acknowledged(delivered):
    settings, receiver, routing, _ = delivered
    before = len(receiver.received)

    async def reread() -> bool:  # a fresh group reads the topic from the start
        return time.monotonic() - started > 6

    started = time.monotonic()
    await deliver_until(settings, routing, reread, group_prefix=f"test-reread-{RUN}")
    assert receiver.received[before:] == []  # delivered and dead-lettered alike are final


async def test_a_stalled_endpoint_holds_back_neither_other_channels_nor_its_own_other_alerts(settings, tmp_path):
    run = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(
        settings,
        topic_alerts=f"stall-alerts-{run}",
        topic_alerts_deadletter=f"stall-dead-{run}",
        webhook_secret=f"stall-{run}",
    )
    await ensure_topics(settings, (settings.topic_alerts, settings.topic_alerts_deadletter))
    receiver, runner = await start_receiver(settings.webhook_secret)
    receiver.behaviours["/json/stuck"] = Behaviour(stall_first=1000, stall=4.0)
    path = tmp_path / "routing.toml"
    path.write_text(
        f'[channels.stuck-{run}]\ntype = "json"\nurl = "{receiver.url("/json/stuck")}"\ntimeout = "10s"\n'
        f'attempts = 1\n\n[channels.fast-{run}]\ntype = "json"\nurl = "{receiver.url("/json/fast")}"\n\n'
        f'[route]\nchannels = ["stuck-{run}", "fast-{run}"]\ngroup_by = ["incident"]\ngroup_wait = "0s"\n'
    )
    alerts = [alert(f"stall-{run}-{i}", incident=f"inc-stall-{run}-{i}") for i in range(12)]
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.broker)
    await producer.start()
    try:  # keyed by incident: spread over the partitions
        for a in alerts:
            await producer.send_and_wait(settings.topic_alerts, json.dumps(a), key=a["incident"].encode())
    finally:
        await producer.stop()

    async def all_arrived() -> bool:
        return (
            len(receiver.alert_ids("/json/fast")) == 12
            and len([r for r in receiver.received if r.path == "/json/stuck"]) == 12
        )

    try:
        await deliver_until(settings, load_routing(path), all_arrived, group_prefix=f"stall-{run}")
    finally:
        await runner.cleanup()
    fast = [r.arrived for r in receiver.received if r.path == "/json/fast"]
    stuck = [r.arrived for r in receiver.received if r.path == "/json/stuck"]
    assert max(fast) < min(stuck) + 4.0  # the fast channel finished while the stuck one still waited
    assert max(stuck) - min(stuck) < 3.0  # the stuck channel's alerts went out together, not one by one


def test_the_demo_points_every_channel_of_the_sample_routing_at_the_inbox(tmp_path):
    from config.settings import SAMPLE_ROUTING
    from streams.demo.inbox import routing_for_inbox

    path = tmp_path / "routing.toml"
    path.write_text(routing_for_inbox(SAMPLE_ROUTING, "http://127.0.0.1:7000"))
    sample, rewritten = load_routing(SAMPLE_ROUTING), load_routing(path)
    assert {c.name: c.url for c in rewritten.channels.values()} == {
        c.name: f"http://127.0.0.1:7000/{c.type}/{c.name}" for c in sample.channels.values()
    }
    assert rewritten.root == sample.root


def test_the_robots_markdown_names_level_severity_and_priority_in_chinese_and_the_time_in_the_streets_zone():
    from datetime import datetime

    when = datetime(2026, 12, 5, 22, 22, 27, 75807, tzinfo=UTC)
    urgent = alert("md-1", event_time=when, level="street", severity="critical", priority="top")
    text = markdown(Notification("c", "route", (), ((urgent, 0),)), "Asia/Shanghai")
    assert "> 级别 街道 · c01 · c01-g01 · 严重程度 严重 · 优先级 特急 · 2026-12-06 06:22\n" in text
    assert "critical" not in text and "top" not in text
