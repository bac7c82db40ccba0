"""The dispatcher console in real headless Chromium (Debian's, through Playwright), served by a real
`redwall console` process reading the real broker and Postgres; actions go through a real worker."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from schemas import json
from sinks.credentials import issue_device_token, issue_dispatcher_token, revoke
from sinks.postgres import PostgresSink
from streams.embedded import free_port
from streams.processes import RedwallProcess
from streams.topics import ensure_topics
from tests.factories import alert, oracle_place, random_point, report

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
RUN = uuid.uuid4().hex[:8]
TOKENS: dict[str, str] = {}  # role -> token of a dispatcher issued for this module
STREET, C01, READ = f"console-{RUN}-street", f"console-{RUN}-c01", f"console-{RUN}-read"


def console_settings(settings, **changes):
    return dataclasses.replace(settings, console_port=free_port(), **changes)


@pytest.fixture(scope="module")
async def dispatchers(settings):
    db = settings.database_url
    TOKENS.update(street=await issue_dispatcher_token(db, STREET, "street"),
                  community=await issue_dispatcher_token(db, C01, "community", "c01"),
                  read=await issue_dispatcher_token(db, READ, "read"))
    return TOKENS


@pytest.fixture(scope="module")
def stack(settings, dispatchers, tmp_path_factory):
    """Worker (ingest, escalation, actions), sink and console as child processes."""
    log_dir = tmp_path_factory.mktemp("console")
    settings = console_settings(settings)
    procs = {name: RedwallProcess(name, settings, log_dir).start() for name in ("worker", "sink", "console")}
    try:
        procs["console"].wait_http(f"http://127.0.0.1:{settings.console_port}/static/console.css")
        procs["worker"].wait_http(f"http://127.0.0.1:{settings.worker_metrics_port}/metrics")
        procs["sink"].wait_http(f"http://127.0.0.1:{settings.sink_metrics_port}/metrics")
        yield settings, procs
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture(scope="module")
async def browser():
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


def url(settings, token: str) -> str:
    return f"http://127.0.0.1:{settings.console_port}/?token={token}"


async def open_console(browser, settings, token: str | None = None, **viewport):
    page = await browser.new_page(viewport=viewport or {"width": 1600, "height": 900})
    response = await page.goto(url(settings, token or TOKENS["street"]))
    assert response.status == 200
    await page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    return page


async def publish(settings, topic: str, values: list[dict], key=lambda v: b"k") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.broker, linger_ms=5, max_request_size=16_000_000)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, json.dumps(v), key=key(v)) for v in values])
    finally:
        await producer.stop()


async def test_the_console_loads_and_draws_the_71_grids(stack, browser):
    settings, _ = stack
    page = await open_console(browser, settings)
    assert await page.locator("#areas path.grid").count() == 71
    assert await page.locator("#areas path.community").count() == 13
    assert await page.locator("#community option").count() == 14  # "all" and the 13 communities
    assert "street dispatcher" in await page.inner_text("#role") and STREET in await page.inner_text("#role")
    await page.wait_for_selector("#link.live", timeout=5_000)
    await page.close()


async def test_metrics_need_no_token_and_count_live_clients(stack, browser):
    settings, _ = stack
    page = await open_console(browser, settings)
    await page.wait_for_selector("#link.live", timeout=5_000)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{settings.console_port}/metrics") as answer:
            assert answer.status == 200
            text = await answer.text()
    clients = [line for line in text.splitlines() if line.startswith("redwall_console_clients ")]
    assert clients and float(clients[0].split()[1]) >= 1
    await page.close()


async def test_a_wrong_token_is_refused_and_a_read_token_may_only_look(stack, browser):
    settings, _ = stack
    page = await browser.new_page()
    response = await page.goto(url(settings, "wrong"))
    assert response.status == 401 and "unknown token" in await page.inner_text("h1")
    await page.close()
    base = f"http://127.0.0.1:{settings.console_port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/snapshot", headers={"Authorization": "Bearer wrong"}) as answer:
            assert answer.status == 401
        async with http.get(f"{base}/api/events?token=") as answer:
            assert answer.status == 401
        async with http.post(f"{base}/api/incidents/inc-c01-000000000000/actions", json={"action": "ack"},
                             headers={"Authorization": f"Bearer {TOKENS['read']}"}) as answer:
            assert answer.status == 403
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as answer:
        text = await answer.text()
    assert 'redwall_console_auth_refused_total{reason="auth_unknown"}' in text
    assert 'redwall_console_auth_refused_total{reason="auth_missing"}' in text
    page = await open_console(browser, settings, TOKENS["read"])
    assert "read-only" in await page.inner_text("#role")
    await page.close()


async def test_an_alert_published_to_kafka_appears_in_the_feed_within_two_seconds(stack, browser):
    settings, _ = stack
    page = await open_console(browser, settings)
    await page.wait_for_selector("#link.live", timeout=5_000)
    new = alert(f"console-{RUN}", title={"zh": "街道督办：安全隐患", "en": f"Escalated {RUN}"}, level="street")
    started = time.monotonic()
    await publish(settings, settings.topic_alerts, [new])
    await page.wait_for_selector(f"#feed li[data-id='{new['id']}']", timeout=2_000)
    seconds = time.monotonic() - started
    print(f"\nalert on the console {seconds:.2f} s after it was published")
    assert "街道督办：安全隐患" in await page.inner_text(f"#feed li[data-id='{new['id']}']")
    await page.close()


async def test_acknowledge_changes_the_incidents_state_in_postgres(stack, browser, pg):
    settings, _ = stack
    rng = random.Random(RUN)
    lat, lng = random_point(rng)
    community, _ = oracle_place(lat, lng)
    filed = report(rng, f"console-dev-{RUN}", category="safety_hazard", severity="high",
                   location={"lat": lat, "lng": lng, "accuracy": 5.0},
                   event_time=datetime.now(timezone.utc).isoformat())
    page = await open_console(browser, settings)
    device = await issue_device_token(settings.database_url, filed["device"])
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {device}"}) as http:
        async with http.post(f"http://{settings.web_host}:{settings.web_port}/v1/reports", json=filed) as answer:
            assert answer.status == 202, await answer.text()
    from streams.incident_state import incident_id

    incident = incident_id(community, filed["id"])
    await page.fill("#search", incident)
    row = page.locator(f"#incidents li[data-incident='{incident}']")
    await row.wait_for(timeout=30_000)
    assert await row.get_attribute("data-status") == "assigned"
    await row.locator("button[data-action='ack']").click()
    status = None
    for _ in range(150):
        status = await pg.fetchval("SELECT status FROM incidents WHERE id = $1", incident)
        if status == "acknowledged":
            break
        await asyncio.sleep(0.2)
    assert status == "acknowledged"
    actor = await pg.fetchval("SELECT actor FROM incident_events WHERE incident_id = $1 AND kind = 'acknowledged'",
                              incident)
    assert actor == STREET  # the worker records the authenticated dispatcher, not what the page says
    # ... and the page shows it once the engine's event comes back through Kafka.
    await page.wait_for_selector(f"#incidents li[data-incident='{incident}'][data-status='acknowledged']",
                                 timeout=10_000)
    await page.close()
    # A community dispatcher sees every incident, but its buttons work only on its own community's.
    page = await open_console(browser, settings, TOKENS["community"])
    await page.select_option("#community", "")
    await page.fill("#search", incident)
    button = page.locator(f"#incidents li[data-incident='{incident}'] button[data-action='resolve']")
    await button.wait_for(timeout=10_000)
    assert await button.is_disabled() == (community != "c01")
    await page.close()


def load_incidents(n: int, now: datetime) -> list[dict]:
    """Incident events as the escalation engine publishes them, spread over the 71 grids and all levels."""
    from config.geometry import load_geometry
    from config.settings import SAMPLE_GEOMETRY

    grids = list(load_geometry(SAMPLE_GEOMETRY).grids.values())
    events = []
    for i in range(n):
        grid, level = grids[i % len(grids)], ("grid", "community", "street", "district")[i % 4]
        opened = now - timedelta(minutes=(i * 7) % 90)
        incident = f"inc-{grid.parent}-{i:012x}"
        state = {"status": ("assigned", "acknowledged")[i % 2], "level": level, "owner": grid.id,
                 "priority": "normal", "opened_at": opened.isoformat(),
                 "ack_by": (opened + timedelta(minutes=30)).isoformat(),
                 "resolve_by": (opened + timedelta(hours=4)).isoformat(), "reports": 1,
                 "last_report_at": opened.isoformat(), "cluster_cell": "8c31aa4298d1bff", "flags": []}
        events.append({"id": f"{incident}:1", "incident": incident, "seq": 1, "kind": "opened",
                       "when": opened.isoformat(), "actor": "system", "reason": "load test", "reason_code": "report",
                       "street": "xichangan", "community": grid.parent, "grid": grid.id, "category": "sanitation",
                       "severity": "medium", "ceiling": "no", "state": state})
    return events


async def test_the_console_under_load_2000_devices_and_500_incidents(settings, browser, tmp_path):
    """A console of its own, on private topics, so the load never reaches the other tests' worker."""
    load = console_settings(settings, topic_incidents=f"load-incidents-{RUN}", topic_patrol=f"load-patrol-{RUN}",
                            topic_alerts=f"load-alerts-{RUN}")
    await ensure_topics(load, (load.topic_incidents, load.topic_patrol, load.topic_alerts))
    rng, now = random.Random(5), datetime.now(timezone.utc)
    devices = [f"load-{RUN}-{i:04d}" for i in range(2000)]
    sink = await PostgresSink.connect(settings.database_url)
    try:
        batches = []
        for device in devices:
            lat, lng = random_point(rng)
            community, grid = oracle_place(lat, lng)
            batches.append({"device": device, "pings": [{"lat": lat, "lng": lng, "accuracy": 5.0, "time": now.isoformat(),
                                                         "street": "xichangan", "community": community, "grid": grid}]})
        await sink.write_positions(batches)
    finally:
        await sink.close()
    statuses = ["on_post"] * 7 + ["off_post", "offline", "unknown"]
    patrol = [{"type": "status", "id": f"{d}:s", "device": d, "grid": "c01-g01", "status": statuses[i % 10],
               "previous": "unknown", "reason": "load", "event_time": now.isoformat()} for i, d in enumerate(devices)]
    await publish(load, load.topic_patrol, patrol)
    await publish(load, load.topic_incidents, load_incidents(500, now), key=lambda e: e["community"].encode())
    await publish(load, load.topic_alerts, [alert(f"load-{RUN}-{i}", level=("community", "street")[i % 2])
                                            for i in range(150)])
    proc = RedwallProcess("console", load, tmp_path).start()
    try:
        proc.wait_http(f"http://127.0.0.1:{load.console_port}/static/console.css")
        started = time.monotonic()
        page = await open_console(browser, load, width=1920, height=1080)
        await page.wait_for_function("document.querySelector('#counts').textContent.includes('500 open')",
                                     timeout=20_000)
        await page.wait_for_function("window.redwallStats.frames > 0 && "
                                     "parseInt(document.querySelector('#counts').textContent) >= 2000", timeout=20_000)
        loaded = time.monotonic() - started
        stats = await page.evaluate("window.redwallStats")
        # The cost of one redraw of each part, averaged: figures to print, not to assert.
        costs = await page.evaluate("""() => Object.fromEntries([["dots+incidents canvas", drawOverlay],
            ["incident list", renderIncidents], ["alert feed", renderFeed]].map(([name, draw]) => {
              const t = performance.now(); for (let i = 0; i < 20; i++) draw();
              return [name, ((performance.now() - t) / 20).toFixed(1) + " ms"]; }))""")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "console.png"))
        print(f"\nconsole under load: loaded in {loaded:.2f} s; {stats['frames']} frames, last {stats['lastMs']:.1f} ms, "
              f"slowest {stats['maxMs']:.1f} ms; one redraw: {costs}")
        assert await page.locator("#incidents li").count() == 100  # the 100 most urgent, of 500
        assert (ARTIFACTS / "console.png").stat().st_size > 10_000
        await page.select_option("#community", "c03")
        await page.wait_for_function("document.querySelector('#incident-count').textContent !== '100 of 500'")
        await page.close()
    finally:
        proc.stop()


async def test_a_community_dispatcher_acts_only_on_its_own_community(stack, browser):
    settings, procs = stack
    page = await open_console(browser, settings, TOKENS["community"])
    assert "community dispatcher" in await page.inner_text("#role") and "c01" in await page.inner_text("#role")
    assert await page.input_value("#community") == "c01"  # it starts on its own community
    await page.close()
    base = f"http://127.0.0.1:{settings.console_port}"
    headers = {"Authorization": f"Bearer {TOKENS['community']}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{base}/api/incidents/inc-c02-00000000c02c/actions", json={"action": "ack"}) as answer:
            assert answer.status == 403
            refused = await answer.json()
        # On its own community the console passes the action on, with the dispatcher's own token.
        async with http.post(f"{base}/api/incidents/inc-c01-00000000c01c/actions", json={"action": "ack"}) as answer:
            assert answer.status == 202, await answer.text()
            assert (await answer.json())["actor"] == C01
    assert "c01" in refused["error"] and "c02" in refused["error"]
    await asyncio.sleep(0.2)
    assert (f"action refused: dispatcher={C01} role=community incident=inc-c02-00000000c02c"
            in procs["console"].log_path.read_text())
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as answer:
        assert 'redwall_console_actions_refused_total{role="community"} 1.0' in await answer.text()


async def test_a_revoked_dispatcher_is_refused_by_the_running_console(stack, settings):
    mine, _ = stack
    name = f"console-{RUN}-leaver"
    token = await issue_dispatcher_token(settings.database_url, name, "street")
    snapshot = f"http://127.0.0.1:{mine.console_port}/api/snapshot"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.get(snapshot) as answer:
            assert answer.status == 200
        feed = await http.get(snapshot.replace("snapshot", "events"))  # a live feed open before the revocation
        assert await feed.content.readline() == b"event: hello\n"
        await revoke(settings.database_url, "dispatcher", name)
        started = time.monotonic()
        while True:
            async with http.get(snapshot) as answer:
                if answer.status == 401:
                    assert "revoked" in (await answer.json())["error"]
                    break
            assert time.monotonic() - started < 5
        refused = time.monotonic() - started
        await asyncio.wait_for(feed.content.read(), 5)  # the open feed ends too
        ended = time.monotonic() - started
        feed.release()
    print(f"\ndispatcher revoked -> console refuses: {refused * 1000:.0f} ms; its open live feed ends: {ended:.1f} s")
