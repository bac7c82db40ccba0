"""Who was here, courtyards, tasks and the daily patrol on the console in Chromium: a console of its own on the
position history of tests/support/presence.py (hand-computed answers), in the street's time to the minute
whatever the browser's zone. A courtyard clicked opens its pane; who was here for it and for an area drawn on
the map lists each device with its worker, role, entry, exit and time inside; the tasks view flags the late
and the unconfirmed; the create form posts the contract's body; the daily table sorts by on-post share."""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from config.roster import ROLES
from schemas import json
from schemas.display import TASK_DEADLINE, TASK_EVENT, TASK_KIND, TASK_STATUS
from sinks.credentials import issue_dispatcher_token
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics
from tests.browser.conftest import ARTIFACTS, close, open_console, open_detail, publish
from tests.support.presence import COURTYARD, GRID, NAME_A, POLYGON, device, presence_database

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
INCIDENT_POINT = (39.8957, 116.3560)  # in courtyard c01-g01-y01
COURTYARD_NAME = "新文化街社区第1网格1号院"
WINDOW = ("2024-02-29 10:00", "2024-02-29 11:00")  # Beijing time: T0 to T0 + 1 h
# (device, worker, role, entered, left, inside) as the page must show them: tests/support/presence.py's
# COURTYARD_ANSWER and POLYGON_ANSWER written out in Beijing minutes.
COURTYARD_ROWS = [
    (device(RUN, "B"), "", "", "2024-02-29 10:05", "2024-02-29 10:05", "0分钟"),
    (device(RUN, "A"), NAME_A[0], ROLES[NAME_A[1]], "2024-02-29 10:06", "2024-02-29 10:07", "0分钟"),
]
POLYGON_ROWS = [
    (device(RUN, "A"), NAME_A[0], ROLES[NAME_A[1]], "2024-02-29 10:00", "2024-02-29 10:07", "3分钟"),
    (device(RUN, "B"), "", "", "2024-02-29 10:05", "2024-02-29 10:05", "0分钟"),
    (device(RUN, "E"), "", "", "2024-02-29 10:59", "2024-02-29 10:59", "0分钟"),
]


WORKER_GOT: list[tuple[str, str, dict]] = []  # (path, Authorization, body) of what the console passed on


async def worker_stand_in() -> tuple[web.AppRunner, str]:
    """An HTTP peer in the worker's place (the console's proxy is the code under test): it answers a create or a
    cancel as a worker does, 202 with the ids, and keeps what it got."""

    async def took(request: web.Request) -> web.Response:
        body = await request.json()
        WORKER_GOT.append((request.path, request.headers.get("Authorization", ""), body))
        task = request.match_info.get("task") or f"task-{RUN}-new"
        return web.json_response({"task": task, "accepted": body.get("id", "tact-1")}, status=202)

    app = web.Application()
    app.router.add_post("/v1/tasks", took)
    app.router.add_post("/v1/tasks/{task}/actions", took)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
async def console(database_url, settings, tmp_path_factory):
    """`redwall console` on a database of its own holding the history; a street dispatcher's token."""
    runner, worker_url = await worker_stand_in()
    async with presence_database(database_url, RUN) as url:
        mine = dataclasses.replace(
            settings,
            database_url=url,
            worker_url=worker_url,
            console_port=free_port(),
            topic_incidents=f"tasks-incidents-{RUN}",  # its own: an incident made up here reaches no worker
            topic_patrol=f"tasks-patrol-{RUN}",
            topic_alerts=f"tasks-alerts-{RUN}",
        )
        await ensure_topics(mine, (mine.topic_incidents, mine.topic_patrol, mine.topic_alerts))
        token = await issue_dispatcher_token(url, f"tasks-{RUN}-street", "street")
        await seed_tasks(url)
        await seed_incident(mine)
        proc = RedwallProcess("console", mine, tmp_path_factory.mktemp("console-tasks")).start()
        try:
            proc.wait_http(f"http://127.0.0.1:{mine.console_port}/static/console.css")
            yield mine, token
        finally:
            proc.stop()
            await runner.cleanup()


BEIJING = ZoneInfo("Asia/Shanghai")  # REDWALL_TIMEZONE in the tests
NOW = datetime.now(UTC).replace(microsecond=0)
MINUTE = timedelta(minutes=1)


def task_state(key: str, created: datetime, **changes) -> dict:
    """A task as the book leaves it (schemas/tasks.py TaskState): for worker A in the courtyard, 30 min to
    arrive and 2 h to finish."""
    state = {
        "id": f"task-{RUN}-{key}",
        "kind": "visit_courtyard",
        "status": "accepted",
        "device": device(RUN, "A"),
        "creator": {"subject": f"tasks-{RUN}-street", "role": "street"},
        "note": f"入院走访 {key}",
        "street": "xichangan",
        "community": "c01",
        "grid": GRID,
        "courtyard": COURTYARD,
        "location": {"lat": 39.8955, "lng": 116.3558},
        "radius_m": 30,
        "created_at": created.isoformat(),
        "limits": {"arrive": "30m", "done": "2h"},
        "arrive_by": (created + 30 * MINUTE).isoformat(),
        "done_by": (created + 120 * MINUTE).isoformat(),
        "unconfirmed": "no",
        "late": {},
        "warned": {},
        "seq": 1,
    }
    return state | changes


TASKS = {  # late: not arrived 70 min after its deadline; fresh: 25 min left to arrive; unconfirmed: done, never arrived
    "late": task_state("late", NOW - 100 * MINUTE, late={"arrive": (NOW - 70 * MINUTE).isoformat()}),
    "fresh": task_state("fresh", NOW - 5 * MINUTE, status="open", kind="register_resident"),
    "unconfirmed": task_state(
        "unconfirmed", NOW - 60 * MINUTE, status="done", done_at=(NOW - 40 * MINUTE).isoformat(), unconfirmed="yes"
    ),
}


async def seed_tasks(url: str) -> None:
    """The tasks as the sink writes them (migration 0018), each with its `created` event; worker A on a shift
    round the clock, so the roster holds as `redwall roster load` leaves it."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO roster_shifts (id, name, starts, ends, timezone) VALUES ('round', '全天', '00:00', '23:59',"
            " 'Asia/Shanghai') ON CONFLICT DO NOTHING"
        )
        await conn.execute("UPDATE roster_workers SET shifts = '{round}' WHERE device_id = $1", device(RUN, "A"))
        for t in TASKS.values():
            when = {k: datetime.fromisoformat(t[k]) if t.get(k) else None for k in
                    ("created_at", "arrive_by", "done_by", "done_at")}  # fmt: skip
            late = t["late"].get("arrive")
            await conn.execute(
                """INSERT INTO tasks (id, kind, status, device, created_by, created_role, street_id, community_id,
                   grid_id, courtyard_id, lat, lng, radius_m, note, created_at, arrive_by, done_by, done_at,
                   unconfirmed, late_arrive, seq, state)
                   VALUES ($1, $2, $3, $4, $5, 'street', 'xichangan', 'c01', $6, $7, 39.8955, 116.3558, 30, $8, $9,
                   $10, $11, $12, $13, $14, 1, $15)""",
                t["id"], t["kind"], t["status"], t["device"], t["creator"]["subject"], GRID, COURTYARD, t["note"],
                when["created_at"], when["arrive_by"], when["done_by"], when["done_at"], t["unconfirmed"] == "yes",
                datetime.fromisoformat(late) if late else None, json.dumps(t).decode(),
            )  # fmt: skip
            record = {"id": f"{t['id']}:1", "task": t["id"], "seq": 1, "event": "created", "when": t["created_at"],
                      "device": t["device"], "actor": t["creator"]["subject"], "state": t}  # fmt: skip
            await conn.execute(
                "INSERT INTO task_events (task_id, seq, event, at, device, actor, record) VALUES ($1, 1, 'created', $2,"
                " $3, $4, $5)",
                t["id"], when["created_at"], t["device"], t["creator"]["subject"], json.dumps(record).decode(),
            )  # fmt: skip
    finally:
        await conn.close()


INCIDENT, REPORT = f"inc-c01-{RUN}", f"rep-{RUN}"


async def seed_incident(settings) -> None:
    """An incident in grid c01-g01 on the console's own topic, and its row and report in PostgreSQL."""
    opened = NOW - 10 * MINUTE
    state = {"status": "assigned", "level": "grid", "owner": GRID, "priority": "normal",
             "opened_at": opened.isoformat(), "ack_by": (opened + 30 * MINUTE).isoformat(),
             "resolve_by": (opened + 240 * MINUTE).isoformat(), "reports": 1, "last_report_at": opened.isoformat(),
             "cluster_cell": "8c31aa4298d1bff", "flags": []}  # fmt: skip
    event = {"id": f"{INCIDENT}:1", "incident": INCIDENT, "seq": 1, "kind": "opened", "when": opened.isoformat(),
             "actor": "system", "reason": "report", "reason_code": "report", "street": "xichangan", "community": "c01",
             "grid": GRID, "category": "sanitation", "severity": "medium", "ceiling": "no", "state": state}  # fmt: skip
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            """INSERT INTO reports (id, device_id, category, severity, text, lat, lng, accuracy, event_time, street_id,
               community_id, grid_id, cell) VALUES ($1, $2, 'sanitation', 'medium', '垃圾满溢', $3, $4, 5, $5,
               'xichangan', 'c01', $6, '8c31aa4298d1bff')""",
            REPORT, device(RUN, "A"), *INCIDENT_POINT, opened, GRID,
        )  # fmt: skip
        await conn.execute(
            """INSERT INTO incidents (id, street_id, community_id, grid_id, category, severity, priority, status, level,
               owner, opened_at, ack_by, resolve_by, report_count, last_report_at, last_seq, updated_at)
               VALUES ($1, 'xichangan', 'c01', $2, 'sanitation', 'medium', 'normal', 'assigned', 'grid', $2, $3, $4, $5,
               1, $3, 1, $3)""",
            INCIDENT, GRID, opened, opened + 30 * MINUTE, opened + 240 * MINUTE,
        )  # fmt: skip
        await conn.execute("INSERT INTO incident_reports VALUES ($1, $2, $3)", REPORT, INCIDENT, opened)
    finally:
        await conn.close()
    await publish(settings, settings.topic_incidents, [event])


async def served(settings, token: str, path: str) -> dict | None:
    """The console's answer to GET `path`, or None when it has no such route."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"http://127.0.0.1:{settings.console_port}{path}") as answer:
            if answer.status == 404 and "errors" not in (await answer.text()):
                return None
            assert answer.status == 200, await answer.text()
            return await answer.json()


async def who_rows(page) -> list[tuple]:
    await page.wait_for_selector("#place table.who tbody tr", timeout=15_000)
    return [tuple(r[:6]) for r in await page.eval_on_selector_all(
        "#place table.who tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))")]  # fmt: skip


async def ask(page, start: str, end: str) -> None:
    await page.fill("#who-from", start)
    await page.fill("#who-to", end)
    await page.locator("#place button[data-do='ask']").click()
    await page.wait_for_function(
        "() => document.querySelector('#who-answer table') && document.querySelector('#who-answer').innerText"
        f".includes('{device(RUN, 'A')}')",
        timeout=15_000,
    )


async def test_who_was_here_for_a_courtyard_and_a_drawn_area(console, browser):
    settings, token = console
    page = await open_console(browser, settings, token)  # the browser in UTC, the street in Beijing
    await page.select_option("#community", "c01")  # the map zooms to the community: its courtyards show
    courtyard = page.locator(f"#areas path[data-courtyard='{COURTYARD}']")
    await courtyard.wait_for(state="visible", timeout=5_000)
    assert await page.locator("#areas path.courtyard:visible").count() > 50
    await courtyard.click()
    pane = page.locator("#place")
    await page.wait_for_selector(f"#place[data-courtyard='{COURTYARD}']", timeout=5_000)
    text = await pane.inner_text()
    assert COURTYARD_NAME in text and "谁来过" in text and "派发任务" in text

    await pane.locator("button[data-do='who']").click()
    default_from = await page.input_value("#who-from")  # the last 24 h, in the street's minute
    assert len(default_from) == 16 and default_from[10] == " "
    await ask(page, *WINDOW)
    assert await who_rows(page) == COURTYARD_ROWS

    # An area drawn over the triangle of tests/support/presence.py: three clicks, the last a double-click.
    await pane.locator("button.close").click()
    await page.locator("#draw-toggle").click()
    corners = [
        await page.evaluate("([lng, lat]) => redwall.screenPoint(lng, lat)", c) for c in POLYGON["coordinates"][0][:3]
    ]
    for x, y in corners[:2]:
        await page.mouse.click(x, y)
    async with page.expect_request(lambda r: r.url.endswith("/api/presence") and r.method == "POST") as posted:
        await page.mouse.dblclick(*corners[2])
    body = json.loads((await posted.value).post_data)
    ring = body["polygon"]["coordinates"][0]
    assert len(ring) == 4 and ring[0] == ring[-1]
    # Where the clicks fell: within a pixel's few metres of the corners meant.
    assert all(abs(a - b) < 2e-5 for got, meant in zip(ring, POLYGON["coordinates"][0]) for a, b in zip(got, meant))
    await ask(page, *WINDOW)
    assert await who_rows(page) == POLYGON_ROWS
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-presence.png"))
    await close(page)


async def rows_of(page, selector: str) -> list[list[str]]:
    return await page.eval_on_selector_all(selector, "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))")


async def test_the_tasks_view_flags_late_and_unconfirmed_tasks_and_shows_a_task(console, browser):
    settings, token = console
    if await served(settings, token, "/api/tasks?status=open") is None:
        pytest.skip("the console serves no GET /api/tasks on this branch (consumers/console/tasks.py)")
    page = await open_console(browser, settings, token)
    await page.locator("#tasks-toggle").click()
    late, fresh, unconfirmed = (f"task-{RUN}-{k}" for k in ("late", "fresh", "unconfirmed"))
    await page.wait_for_selector(f"#tasks-list tr[data-task='{fresh}']", timeout=15_000)
    mine = [t for t in await page.eval_on_selector_all("#tasks-list tr[data-task]", "rows => rows.map(r => r.dataset.task)")
            if RUN in t]  # fmt: skip
    assert mine == [late, fresh]  # the late one first; the done one is not open
    assert await page.locator(f"tr[data-task='{late}'][data-late]").count() == 1
    assert await page.locator(f"tr[data-task='{fresh}'][data-late]").count() == 0
    late_row = await page.inner_text(f"tr[data-task='{late}']")
    assert TASK_EVENT["late"] in late_row and TASK_KIND["visit_courtyard"] in late_row and NAME_A[0] in late_row
    assert TASK_STATUS["accepted"] in late_row and COURTYARD_NAME in late_row
    arrive_by = (NOW - 70 * MINUTE).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    assert f"{TASK_DEADLINE['arrive']} {arrive_by}" in late_row, late_row
    # 70 min late when the module was read, and later by however long the session took to get here.
    over = re.search(r"超时 (\d+)小时(\d+)分", late_row)
    late_by = (datetime.now(UTC) - (NOW - 70 * MINUTE)).total_seconds() / 60
    assert over and abs(int(over.group(1)) * 60 + int(over.group(2)) - late_by) <= 1.5, (late_row, late_by)
    fresh_row = await page.inner_text(f"tr[data-task='{fresh}']")
    assert TASK_STATUS["open"] in fresh_row and TASK_KIND["register_resident"] in fresh_row
    # Its limits run from NOW - 5 min (30 min to arrive, 2 h to finish), NOW being when the module was read: the
    # time left is whatever is left now, to the minute the page counts (a minute either side: the clock moved).
    left = (NOW + 25 * MINUTE - datetime.now(UTC)).total_seconds() / 60
    arrive = re.search(r"剩余 (?:(\d+)小时)?(\d+)分", fresh_row)
    done = re.search(r"剩余 (\d+)小时(\d+)分", fresh_row[arrive.end() :])
    assert arrive and done, fresh_row
    for found, minutes in ((arrive, left), (done, left + 90)):
        shown = int(found.group(1) or 0) * 60 + int(found.group(2))
        assert abs(shown - minutes) <= 1.5, (fresh_row, minutes)

    await page.locator("#tasks-closed").check()  # the last 24 h: the done one too, flagged
    await page.wait_for_selector(f"tr[data-task='{unconfirmed}'][data-unconfirmed]", timeout=15_000)
    assert "未经定位确认" in await page.inner_text(f"tr[data-task='{unconfirmed}']")

    await page.locator(f"tr[data-task='{late}']").click()
    await page.wait_for_selector(f"#task-detail[data-task='{late}'] ol.history li", timeout=15_000)
    detail = await page.inner_text("#task-detail")
    assert TASK_EVENT["created"] in detail and f"tasks-{RUN}-street" in detail
    await page.fill("#task-cancel-reason", "居民已自行登记")  # a street dispatcher may cancel it
    async with page.expect_request(lambda r: r.url.endswith(f"/api/tasks/{late}/cancel")) as posted:
        await page.locator("#task-detail button[data-do='cancel']").click()
    assert json.loads((await posted.value).post_data) == {"reason": "居民已自行登记"}
    await page.wait_for_selector("#task-cancelled.verdict", timeout=15_000)  # the answer is said
    path, auth, passed = WORKER_GOT[-1]
    assert (path, auth, passed["action"], passed["note"]) == (
        f"/v1/tasks/{late}/actions",
        f"Bearer {token}",
        "cancel",
        "居民已自行登记",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-tasks.png"))
    await close(page)


async def test_the_create_form_posts_the_contracts_body(console, browser):
    settings, token = console
    if await served(settings, token, f"/api/tasks/candidates?courtyard={COURTYARD}") is None:
        pytest.skip("the console serves no GET /api/tasks/candidates on this branch (consumers/console/tasks.py)")
    page = await open_console(browser, settings, token)
    await page.select_option("#community", "c01")
    await page.locator(f"#areas path[data-courtyard='{COURTYARD}']").click()
    await page.locator("#place button[data-do='task']").click()
    await page.wait_for_selector("#task-kind", timeout=15_000)
    assert await page.input_value("#task-kind") == "visit_courtyard"
    chosen = await page.eval_on_selector_all("input[name='task-device']:checked", "xs => xs.map(x => x.value)")
    await page.select_option("#task-kind", "register_resident")
    await page.fill("#task-note", f"登记新住户 {RUN}")
    await page.fill("#task-arrive", "20m")
    async with page.expect_request(lambda r: r.url.endswith("/api/tasks") and r.method == "POST") as posted:
        await page.locator("#task-send").click()
    body = json.loads((await posted.value).post_data)
    assert body == {"kind": "register_resident", "device": (chosen or [""])[0], "note": f"登记新住户 {RUN}",
                    "courtyard": COURTYARD, "arrive_within": "20m"}  # fmt: skip
    await page.wait_for_selector("#task-verdict.verdict:not(.pending)", timeout=15_000)  # the answer is said
    assert WORKER_GOT[-1] == ("/v1/tasks", f"Bearer {token}", body)  # passed on as it is, with the token
    await page.screenshot(path=str(ARTIFACTS / "console-task-form.png"))
    await close(page)


async def test_the_daily_patrol_table_sorts_by_on_post_share(console, browser):
    settings, token = console
    day = await served(settings, token, "/api/patrol/day?date=2024-02-29")
    if day is None:
        pytest.skip("the console serves no GET /api/patrol/day on this branch")
    share = {w["device"]: (w["on_post_s"] / w["on_duty_s"] if w["on_duty_s"] else 0) for w in day["workers"]}
    page = await open_console(browser, settings, token)
    await page.locator("#patrol-toggle").click()
    assert len(await page.input_value("#patrol-date")) == 10  # today in the street
    await page.fill("#patrol-date", "2024-02-29")
    await page.dispatch_event("#patrol-date", "change")
    await page.wait_for_function("() => document.querySelector('#patrol-count').innerText.startsWith('2024-02-29')")
    order = sorted(share, key=lambda d: (share[d], d))
    shown = await page.eval_on_selector_all("#patrol-list tr[data-device]", "rows => rows.map(r => r.dataset.device)")
    assert shown == order
    cells = {r[0]: r for r in await rows_of(page, "#patrol-list tr[data-device]")}
    for w in day["workers"]:
        row = next(r for k, r in cells.items() if w["device"] in k)
        assert row[5] == f"{round(share[w['device']] * 100)}%"
    await page.locator("#patrol-share").click()
    shown = await page.eval_on_selector_all("#patrol-list tr[data-device]", "rows => rows.map(r => r.dataset.device)")
    assert shown == sorted(share, key=lambda d: (-share[d], d))
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-patrol-day.png"))
    await close(page)


async def test_a_task_from_an_incident_goes_to_its_point_with_its_ids(console, browser):
    settings, token = console
    if await served(settings, token, "/api/tasks/candidates?lat=39.8957&lng=116.356") is None:
        pytest.skip("the console serves no GET /api/tasks/candidates on this branch (consumers/console/tasks.py)")
    page = await open_console(browser, settings, token)
    await open_detail(page, INCIDENT)
    await page.locator("#detail button[data-action='task']").click()
    await page.wait_for_selector("#place #task-kind", timeout=15_000)
    assert await page.input_value("#task-kind") == "verify_report"
    assert INCIDENT in await page.inner_text("#place")
    chosen = await page.eval_on_selector_all("input[name='task-device']:checked", "xs => xs.map(x => x.value)")
    await page.fill("#task-note", "核实垃圾满溢")
    await page.fill("#task-radius", "40")
    async with page.expect_request(lambda r: r.url.endswith("/api/tasks") and r.method == "POST") as posted:
        await page.locator("#task-send").click()
    body = json.loads((await posted.value).post_data)
    lat, lng = INCIDENT_POINT
    assert body == {"kind": "verify_report", "device": (chosen or [""])[0], "note": "核实垃圾满溢",
                    "location": {"lat": lat, "lng": lng}, "radius_m": 40, "incident": INCIDENT, "report": REPORT}  # fmt: skip
    await close(page)
