"""Incidents on the console: overdue first and marked, counts per state, pages instead of a row cap, the
alert feed on the first screen under load, an incident's detail (reports, history, deadlines), the
engine's verdict on an action, and the unlocated queue the street places."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from schemas.display import CATEGORY, DEADLINE, INCIDENT_EVENT, INCIDENT_STATUS, LEVEL, PLACE, ROLE
from schemas.records import UNLOCATED
from sinks.postgres import PostgresSink
from streams.demo.processes import RedwallProcess
from streams.escalation.state import incident_id
from streams.topics import ensure_topics
from tests.browser.conftest import (
    ARTIFACTS,
    RUN,
    STREET,
    close,
    console_settings,
    open_console,
    open_detail,
    publish,
    sign_in_link,
    watch_errors,
)
from tests.support.factories import alert, oracle_place, random_point, report
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

PAGE_ROWS = 50  # console/static/incidents.js
SCREENS = ({"width": 1920, "height": 1080}, {"width": 1600, "height": 1000})


async def post_report(stack, rng, **changes) -> tuple[dict, str]:
    """A report through the real ingest API; the id of the incident it opens unless it joins one."""
    lat, lng = random_point(rng)
    community, _ = oracle_place(lat, lng)
    from sinks.credentials import issue_device_token

    filed = report(
        rng,
        f"console-dev-{RUN}-{rng.getrandbits(16):04x}",
        location={"lat": lat, "lng": lng, "accuracy": 5.0},
        event_time=datetime.now(UTC).isoformat(),
        **changes,
    )
    device = await issue_device_token(stack.settings.database_url, filed["device"])
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {device}"}) as http:
        url = f"http://{stack.settings.web_host}:{stack.settings.web_port}/v1/reports"
        async with http.post(url, json=filed) as answer:
            assert answer.status == 202, await answer.text()
    return filed, incident_id(community, filed["id"])


async def file_report(stack, pg, rng, **changes) -> tuple[dict, str]:
    """A report through the real ingest API and the incident it opened, once stored. A report joins an open
    incident of its category nearby last reported within the clustering window (config/escalation.toml), and
    the session's other tests leave such incidents behind: a report that joined one is filed again elsewhere,
    the test's incident being its own. The wait is long: after a busy session the worker first reads its
    history."""
    query = "SELECT incident_id FROM incident_reports WHERE report_id = $1"
    for _ in range(5):
        filed, own = await post_report(stack, rng, **changes)
        linked = await eventually(lambda filed=filed: pg.fetchval(query, filed["id"]), 90)
        assert linked, f"report {filed['id']} is in no incident after 90 s"
        if linked == own:
            return filed, own
    raise AssertionError("five reports in a row joined other tests' incidents")


async def test_acknowledge_from_the_detail_shows_the_verdict_and_keeps_the_incident_in_view(stack, browser, pg):
    rng = random.Random(RUN)
    filed, incident = await file_report(
        stack,
        pg,
        rng,
        category="safety_hazard",
        severity="high",
        text=f"楼道堆放易燃物 {RUN}",
        photos=["https://photos.example/a.jpg"],
    )
    page = await open_console(browser, stack.settings, stack.tokens["street"])
    await open_detail(page, incident)
    detail = page.locator("#detail")
    # What it is: the report's text, photo and reporter, its history, its deadlines.
    await page.wait_for_function(f"() => document.querySelector('#detail').innerText.includes('{RUN}')", timeout=15_000)
    text = await detail.inner_text()
    assert CATEGORY["safety_hazard"] in text and LEVEL["street"] in text and filed["device"] in text
    assert INCIDENT_EVENT["opened"] in text and DEADLINE["acknowledge"] in text and DEADLINE["resolve"] in text
    assert await detail.locator(".photos a[href='https://photos.example/a.jpg']").count() == 1

    await detail.locator("button[data-action='ack']").click()
    acknowledged = await eventually(
        lambda: pg.fetchval("SELECT 1 FROM incidents WHERE id = $1 AND status = 'acknowledged'", incident), 30
    )
    assert acknowledged
    actor = await pg.fetchval(
        "SELECT actor FROM incident_events WHERE incident_id = $1 AND kind = 'acknowledged'", incident
    )
    assert actor == STREET  # the worker records the authenticated dispatcher, not what the page says
    # The verdict in Chinese (done at once, or pending until the engine's event comes back), and the incident
    # stays in view: its detail open, its row listed as in progress.
    await page.wait_for_selector("#detail .verdict.done", timeout=10_000)
    assert f"{INCIDENT_EVENT['acknowledged']}" in await page.inner_text("#detail .verdict")
    await page.wait_for_selector(
        f"#incidents li[data-incident='{incident}'][data-status='acknowledged']", timeout=10_000
    )
    await page.wait_for_function(
        f"() => document.querySelector('#detail').innerText.includes('{STREET}')", timeout=10_000
    )
    assert INCIDENT_STATUS["acknowledged"] in await detail.inner_text()
    await detail.locator("button[data-action='ack']").wait_for(state="detached", timeout=5_000)  # nothing left to ack

    # A street incident cannot go further up: the engine refuses, and the page says so with the reason.
    await detail.locator("button[data-action='request_escalation']").click()
    await page.wait_for_selector("#detail .verdict.refused", timeout=10_000)
    verdict = await page.inner_text("#detail .verdict")
    assert "被拒绝" in verdict and "已在街道" in verdict, verdict
    assert await page.locator(f"#detail[data-incident='{incident}']").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-detail.png"))
    await close(page)

    # A community dispatcher reads any incident, but acts only on its own community's.
    page = await open_console(browser, stack.settings, stack.tokens["community"])
    await page.select_option("#community", "")
    await open_detail(page, incident)
    may_act = await page.locator("#detail button[data-action='resolve']").count()
    assert may_act == (1 if incident.startswith("inc-c01-") else 0)
    await close(page)


async def test_an_incident_opened_while_the_page_loads_is_listed(stack, browser):
    """The page reads its snapshot before its live stream is subscribed: an incident opened in between is in
    neither, unless the page reads the snapshot again once the stream is open. Here the stream is held back
    until the console has taken an incident and sent it to the streams open then."""
    settings = stack.settings
    context = await browser.new_context(viewport=SCREENS[1], timezone_id="UTC")
    page = await context.new_page()
    watch_errors(page)
    release = asyncio.Event()

    async def hold(route):
        await release.wait()
        await route.continue_()

    await page.route("**/api/events", hold)
    assert (await page.goto(sign_in_link(settings, stack.tokens["street"]))).status == 200
    await page.wait_for_selector("body[data-ready='1']", timeout=15_000)  # drawn from the snapshot; stream held
    [event] = load_incidents(1, datetime.now(UTC))
    incident = f"inc-{event['community']}-{RUN}0a0a"
    event |= {"id": f"{incident}:1", "incident": incident}
    await publish(settings, settings.topic_incidents, [event], key=lambda e: b"c01")
    taken = "async (id) => (await (await fetch('/api/snapshot')).json()).incidents.some((i) => i.id === id)"
    assert await eventually(lambda: page.evaluate(taken, incident), 30)
    await asyncio.sleep(1)  # the console sends what it took within 0.25 s (feed.py), to no stream of this page
    release.set()
    await page.fill("#search", incident)
    await page.wait_for_selector(f"#incidents li[data-incident='{incident}']", timeout=15_000)
    await close(page)


def load_incidents(n: int, now: datetime) -> list[dict]:
    """Incident events as the escalation engine publishes them, spread over the 71 grids and all levels;
    many past a deadline, some (every 25th) in the unlocated queue."""
    from config.geometry import load_geometry
    from config.settings import SAMPLE_GEOMETRY

    grids = list(load_geometry(SAMPLE_GEOMETRY).grids.values())
    events = []
    for i in range(n):
        grid, level = grids[i % len(grids)], ("grid", "community", "street", "district")[i % 4]
        # Opened 0..80 min ago in steps of 10: no deadline falls within minutes of `now`, so none passes while
        # the tests run and the expected overdue set holds; the seconds keep every deadline distinct.
        opened = now - timedelta(minutes=10 * (i % 9), seconds=i % 50)
        community, place = (UNLOCATED, None) if i % 25 == 3 else (grid.parent, grid.id)
        status = ("assigned", "acknowledged")[i % 2]
        ack_by, resolve_by = opened + timedelta(minutes=30), opened + timedelta(hours=4 if i % 10 != 1 else 0.25)
        state = {
            "status": status,
            "level": "street" if place is None else level,
            "owner": place or "xichangan",
            "priority": "normal",
            "opened_at": opened.isoformat(),
            "ack_by": ack_by.isoformat(),
            "resolve_by": resolve_by.isoformat(),
            "reports": 1,
            "last_report_at": opened.isoformat(),
            "cluster_cell": "8c31aa4298d1bff",
            "flags": [],
        }
        if status == "assigned" and ack_by < now and level == "street":
            state["missed"] = {"acknowledge": ack_by.isoformat()}  # chased at the street: stays overdue
        incident = f"inc-{community}-{i:012x}"
        event = {
            "id": f"{incident}:1",
            "incident": incident,
            "seq": 1,
            "kind": "opened",
            "when": opened.isoformat(),
            "actor": "system",
            "reason": "load test",
            "reason_code": "report",
            "street": "xichangan",
            "community": community,
            "category": "sanitation",
            "severity": "medium",
            "ceiling": "no",
            "state": state,
        }
        if place:
            event["grid"] = place
        events.append(event)
    return events


def overdue_since(event: dict, now: datetime) -> datetime | None:
    """The common definition: (assigned and ack_by <= now) or (open and resolve_by <= now), the earliest."""
    s = event["state"]
    dues = [datetime.fromisoformat(s["resolve_by"])]
    if s["status"] == "assigned":
        dues.append(datetime.fromisoformat(s["ack_by"]))
    passed = [d for d in dues if d <= now]
    return min(passed) if passed else None


async def rows(page) -> list[dict]:
    return await page.eval_on_selector_all(
        "#incidents li",
        """items => items.map(li => ({
        id: li.dataset.incident, since: li.dataset.overdueSince ? Number(li.dataset.overdueSince) : null,
        mark: !!li.querySelector('.mark'), text: li.innerText}))""",
    )


async def select_tab(page, tab: str) -> None:
    await page.click(f"#tabs button[data-tab='{tab}']")
    await page.wait_for_selector(f"#tabs button.on[data-tab='{tab}']")  # drawn in the same frame as the rows


async def every_row(page) -> list[dict]:
    """Every row of the current tab, page by page."""
    found = await rows(page)
    while await page.locator("#next").is_enabled():
        shown = await page.inner_text("#page")
        await page.click("#next")
        await page.wait_for_function(f"() => document.querySelector('#page').textContent !== '{shown}'")
        found += await rows(page)
    return found


async def in_viewport(page, selector: str) -> bool:
    box, size = await page.locator(selector).bounding_box(), page.viewport_size
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


@pytest.fixture(scope="module")
async def loaded_console(settings, stack, tmp_path_factory):
    """A console of its own, on private topics (so the load never reaches the other tests' worker), with
    2,000 devices, 500 incidents and 150 alerts; its actions go to the stack's worker."""
    load = console_settings(
        stack.settings,
        topic_incidents=f"load-incidents-{RUN}",
        topic_patrol=f"load-patrol-{RUN}",
        topic_alerts=f"load-alerts-{RUN}",
    )
    await ensure_topics(load, (load.topic_incidents, load.topic_patrol, load.topic_alerts))
    rng, now = random.Random(5), datetime.now(UTC)
    devices = [f"load-{RUN}-{i:04d}" for i in range(2000)]
    sink = await PostgresSink.connect(settings.database_url)
    try:
        batches = []
        for device in devices:
            lat, lng = random_point(rng)
            community, grid = oracle_place(lat, lng)
            batches.append(
                {
                    "device": device,
                    "pings": [
                        {
                            "lat": lat,
                            "lng": lng,
                            "accuracy": 5.0,
                            "time": now.isoformat(),
                            "street": "xichangan",
                            "community": community,
                            "grid": grid,
                        }
                    ],
                }
            )
        await sink.write_positions(batches)
    finally:
        await sink.close()
    statuses = ["on_post"] * 7 + ["off_post", "offline", "unknown"]
    patrol = [
        {
            "type": "status",
            "id": f"{d}:s",
            "device": d,
            "grid": "c01-g01",
            "status": statuses[i % 10],
            "previous": "unknown",
            "reason": "load",
            "event_time": now.isoformat(),
        }
        for i, d in enumerate(devices)
    ]
    incidents = load_incidents(500, now)
    await publish(load, load.topic_patrol, patrol)
    await publish(load, load.topic_incidents, incidents, key=lambda e: e["community"].encode())
    await publish(
        load, load.topic_alerts, [alert(f"load-{RUN}-{i}", level=("community", "street")[i % 2]) for i in range(150)]
    )
    proc = RedwallProcess("console", load, tmp_path_factory.mktemp("load-console")).start()
    try:
        proc.wait_http(f"http://127.0.0.1:{load.console_port}/static/console.css")
        yield load, incidents, now
    finally:
        proc.stop()


async def test_the_console_under_load_2000_devices_and_500_incidents(loaded_console, stack, browser):
    load, incidents, now = loaded_console
    started = time.monotonic()
    page = await open_console(browser, load, stack.tokens["street"], **SCREENS[0])
    await page.wait_for_function(
        "() => document.querySelector('#counts').textContent.includes('500 open')", timeout=20_000
    )
    await page.wait_for_function(
        "() => window.redwallStats.frames > 0 && parseInt(document.querySelector('#counts').textContent) >= 2000",
        timeout=20_000,
    )
    loaded = time.monotonic() - started
    stats = await page.evaluate("window.redwallStats")
    # The cost of one redraw of each part, averaged: figures to print, not to assert.
    costs = await page.evaluate("""() => Object.fromEntries([["dots+incidents canvas", redwall.drawOverlay],
        ["incident list", redwall.renderIncidents], ["alert feed", redwall.renderFeed]].map(([name, draw]) => {
          const t = performance.now(); for (let i = 0; i < 20; i++) draw();
          return [name, ((performance.now() - t) / 20).toFixed(1) + " ms"]; }))""")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console.png"))
    print(
        f"\nconsole under load: loaded in {loaded:.2f} s; {stats['frames']} frames, last {stats['lastMs']:.1f} ms, "
        f"slowest {stats['maxMs']:.1f} ms; one redraw: {costs}"
    )
    assert (ARTIFACTS / "console.png").stat().st_size > 10_000
    assert await page.locator("#incidents li").count() == PAGE_ROWS  # a page of the 500, not a cap
    assert await page.inner_text("#incident-count") == "500"

    # The newest alerts are on the first screen, at both screen sizes, without scrolling.
    for screen in SCREENS:
        await page.set_viewport_size(screen)
        assert await in_viewport(page, "#feed li:first-child"), screen
        assert await in_viewport(page, "#incidents li:first-child"), screen
        assert await page.evaluate("document.scrollingElement.scrollHeight <= innerHeight + 1")
    await page.screenshot(path=str(ARTIFACTS / "console-1600.png"))
    await close(page)


async def test_overdue_incidents_come_first_marked_and_every_one_is_reachable(loaded_console, stack, browser):
    load, incidents, now = loaded_console
    page = await open_console(browser, load, stack.tokens["street"])
    await page.wait_for_function(
        "() => document.querySelector('#counts').textContent.includes('500 open')", timeout=20_000
    )
    checked = datetime.now(UTC)
    overdue = {e["incident"] for e in incidents if overdue_since(e, checked)}
    located = [e for e in incidents if e["community"] != UNLOCATED]
    counts = await page.eval_on_selector_all(
        "#tabs button",
        "bs => Object.fromEntries(bs.map(b => [b.dataset.tab, Number(b.querySelector('.n').textContent)]))",
    )
    assert counts == {
        "all": 500,
        "overdue": len(overdue),
        "assigned": sum(e["state"]["status"] == "assigned" for e in incidents),
        "acknowledged": sum(e["state"]["status"] == "acknowledged" for e in incidents),
        "paused": 0,  # none of the load is paused (tests/browser/test_console_paused.py)
        "unlocated": 500 - len(located),
    }
    assert len(overdue) > PAGE_ROWS  # more than a page: paging, not truncation, must reach them all
    first = await rows(page)
    assert all(r["mark"] and r["since"] for r in first)  # page one: overdue only, each marked
    assert [r["since"] for r in first] == sorted(r["since"] for r in first)  # most overdue first
    assert INCIDENT_EVENT["deadline_missed"] in first[0]["text"]
    assert "小时" in first[0]["text"] or "分钟" in first[0]["text"]  # how long overdue

    await select_tab(page, "overdue")
    listed = await every_row(page)
    assert {r["id"] for r in listed} == overdue and len(listed) == len(overdue)
    # The engine keeps an acknowledge deadline missed at the street: still overdue against it, not against resolve.
    chased = next(e for e in incidents if "missed" in e["state"])
    row = next(r for r in listed if r["id"] == chased["incident"])
    assert DEADLINE["acknowledge"] in row["text"]

    # Past the overdue ones, by the nearest deadline; acknowledged incidents stay listed.
    await select_tab(page, "all")
    everything = await every_row(page)
    assert len(everything) == 500 and {r["id"] for r in everything[: len(overdue)]} == overdue
    assert sum(1 for e in incidents if e["state"]["status"] == "acknowledged") == sum(
        1 for r in everything if INCIDENT_STATUS["acknowledged"] in r["text"]
    )
    await page.select_option("#community", "c03")
    await page.wait_for_function("() => document.querySelector('#incident-count').textContent !== '500'")
    assert int(await page.inner_text("#incident-count")) == sum(e["community"] == "c03" for e in incidents)
    await close(page)


def distance(a: str, b: str) -> float:
    pa, pb = ([int(x) for x in c[c.index("(") + 1 : c.index(")")].split(",")[:3]] for c in (a, b))
    return sum((x - y) ** 2 for x, y in zip(pa, pb)) ** 0.5


async def test_devices_never_share_a_colour_with_incidents(loaded_console, stack, browser):
    load, _, _ = loaded_console
    page = await open_console(browser, load, stack.tokens["read"])
    chips = await page.eval_on_selector_all(
        "#legend .chip[data-patrol], #legend .chip[data-level]",
        """cs => cs.map(c => {
        const s = getComputedStyle(c), bg = s.backgroundColor;
        return [c.dataset.patrol ? 'patrol' : 'level', c.dataset.patrol || c.dataset.level,
                bg === 'rgba(0, 0, 0, 0)' ? s.borderTopColor : bg]; })""",
    )
    devices = {code: colour for kind, code, colour in chips if kind == "patrol"}
    levels = {code: colour for kind, code, colour in chips if kind == "level"}
    assert set(devices) == {"on_post", "off_post", "offline", "off_duty", "unknown"} and len(levels) == 4
    # The pair that was confused (unknown #42a5f5, grid level #29b6f6) is 30 apart in RGB; twice that is the floor.
    close_pairs = [
        (d, lv, round(distance(dc, lc)))
        for d, dc in devices.items()
        for lv, lc in levels.items()
        if distance(dc, lc) < 60
    ]
    assert close_pairs == []
    await close(page)


async def test_the_street_places_an_unlocated_incident(loaded_console, stack, browser):
    load, incidents, _ = loaded_console
    waiting = [e for e in incidents if e["community"] == UNLOCATED]
    page = await open_console(browser, load, stack.tokens["street"])
    tab = page.locator("#tabs button[data-tab='unlocated']")
    await page.wait_for_function(
        "() => document.querySelector('#counts').textContent.includes('500 open')", timeout=20_000
    )
    assert PLACE[UNLOCATED] in await tab.inner_text() and "alarm" in await tab.get_attribute("class")
    await select_tab(page, "unlocated")
    listed = await every_row(page)
    assert {r["id"] for r in listed} == {e["incident"] for e in waiting}
    target = waiting[0]["incident"]
    await page.click(f"#incidents li[data-incident='{target}']")
    await page.wait_for_selector("#detail #place-owner")
    assert await page.locator("#place-owner option").count() == 13 + 71  # every community and grid
    await page.select_option("#place-owner", "c03-g02")
    async with page.expect_request(lambda r: r.url.endswith(f"/api/incidents/{target}/actions")) as sent:
        await page.click("#detail button[data-action='reassign']")
    assert (await sent.value).post_data_json == {"action": "reassign", "owner": "c03-g02"}
    await page.wait_for_selector("#detail .verdict.done, #detail .verdict.refused, #detail .verdict.pending")
    await page.wait_for_function("() => !document.querySelector('#detail .verdict').innerText.includes('发送中')")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-unlocated.png"))
    await close(page)
    # A community dispatcher sees the queue but cannot place anything.
    page = await open_console(browser, load, stack.tokens["community"])
    await select_tab(page, "unlocated")
    await page.click(f"#incidents li[data-incident='{target}']")
    await page.wait_for_selector("#detail h3")
    assert await page.locator("#detail #place-owner").count() == 0
    assert ROLE["community"] in await page.inner_text("#detail")
    await close(page)


async def test_the_console_passes_reassign_with_its_owner_to_the_worker(stack, pg):
    rng = random.Random(f"{RUN}-reassign")
    _, incident = await file_report(stack, pg, rng, category="sanitation", severity="low")
    community = incident.split("-")[1]
    owner = f"{community}-g01"
    await eventually(lambda: pg.fetchval("SELECT 1 FROM incidents WHERE id = $1", incident), 30)
    headers = {"Authorization": f"Bearer {stack.tokens['street']}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(
            f"{stack.base}/api/incidents/{incident}/actions",
            json={"action": "reassign", "owner": owner, "reason": "closer to the grid"},
        ) as answer:
            assert answer.status == 200, await answer.text()
    assigned = await eventually(
        lambda: pg.fetchval("SELECT owner FROM incidents WHERE id = $1 AND owner = $2", incident, owner), 30
    )
    assert assigned == owner
