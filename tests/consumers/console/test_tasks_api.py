"""The console's tasks to a person over real HTTP on real PostgreSQL (consumers/console/tasks.py): the list and one
task within the dispatcher's scope, who should go to a courtyard or a point, and create and cancel passed on to a
stand-in worker (an HTTP peer on a free port that records what it got) with the dispatcher's own token; the
refusals (400, 403, 404, 422) name the field and the reason. The tasks are those of tests/support/task_rows.py."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from config.crs import METRES_PER_DEGREE
from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY
from sinks.credentials import issue_dispatcher_token
from sinks.migrate import migrate
from sinks.postgres import seed_places
from sinks.tasks import TaskSink
from streams.demo.embedded import free_port
from tests.support.console_app import serving
from tests.support.databases import own_database
from tests.support.task_rows import COURTYARD, GRID_A, device, street, task_id

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
CENTRE = load_geometry(SAMPLE_GEOMETRY, check_areas=False).courtyards[COURTYARD].centre  # (lng, lat)
# On duty around the clock (two shifts), so the answer does not hang on the hour the test runs at.
WORKERS = {"near": ("on_post", 80.0), "far": ("on_post", 250.0), "away": ("off_post", 20.0), "gone": ("offline", 5.0)}


async def _database(database_url: str) -> str:
    url = await own_database(database_url, "tasks_api")
    await migrate(url)
    await seed_places(url, load_geometry(SAMPLE_GEOMETRY))
    pool = await asyncpg.create_pool(url, min_size=0, max_size=1)
    try:
        await TaskSink(pool).write(street(RUN))
        await pool.execute(
            "INSERT INTO roster_shifts VALUES ('am', '上午', '00:00', '12:00', 'Asia/Shanghai'), "
            "('pm', '下午', '12:00', '00:00', 'Asia/Shanghai')"
        )
        now = datetime.now(UTC)
        for key, (status, metres) in WORKERS.items():
            dev = f"cand-{RUN}-{key}"
            await pool.execute(
                "INSERT INTO roster_workers (device_id, name, role, grid_id, shifts) VALUES ($1, $2, 'grid_worker', $3, "
                "'{am,pm}')",
                dev,
                key,
                GRID_A,
            )
            await pool.execute(
                "INSERT INTO patrol_status (device_id, grid_id, status, since, reason) VALUES ($1, $2, $3, $4, 'test')",
                *(dev, GRID_A, status, now - timedelta(hours=1)),
            )
            await pool.execute(
                "INSERT INTO latest_positions (device_id, event_time, lat, lng, accuracy) VALUES ($1, $2, $3, $4, 5)",
                *(dev, now - timedelta(seconds=20), CENTRE[1] + metres / METRES_PER_DEGREE, CENTRE[0]),
            )
    finally:
        await pool.close()
    return url


async def _stand_in_worker(got: list) -> tuple[web.AppRunner, str]:
    """The worker's task routes as an HTTP peer: records (path, Authorization, body), answers 202 {"task": id}."""

    async def take(request: web.Request) -> web.Response:
        body = await request.json()
        got.append((request.path, request.headers.get("Authorization"), body))
        return web.json_response({"task": request.match_info.get("task") or body.get("task")}, status=202)

    app = web.Application()
    app.router.add_post("/v1/tasks", take)
    app.router.add_post("/v1/tasks/{task}/actions", take)
    runner, port = web.AppRunner(app), free_port()
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
async def console(database_url, settings):
    url, got = await _database(database_url), []
    worker, worker_url = await _stand_in_worker(got)
    mine = dataclasses.replace(settings, database_url=url, console_port=free_port(), worker_url=worker_url)
    tokens = {
        who: await issue_dispatcher_token(url, f"tasks-{RUN}-{who}", role, community)
        for who, role, community in (
            ("street", "street", None),
            ("read", "read", None),
            ("c01", "community", "c01"),
            ("c02", "community", "c02"),
        )
    }
    try:
        async with serving(mine) as url:
            yield url, tokens, got
    finally:
        await worker.cleanup()


async def call(console, who: str, method: str, path: str, **kwargs) -> tuple[int, dict]:
    base, tokens, _ = console
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {tokens[who]}"}) as http:
        async with http.request(method, f"{base}{path}", **kwargs) as answer:
            return answer.status, await answer.json()


def ids(body: dict) -> list[str]:
    return [t["id"].removeprefix(f"task-{RUN}-") for t in body["tasks"]]


def refused(status: int, body: dict) -> tuple[int, str]:
    assert body["errors"][0]["reason"], body
    return status, body["errors"][0]["field"]


@pytest.mark.parametrize(
    "who, query, expected",
    [
        ("street", {}, ["d", "b"]),
        ("read", {}, ["d", "b"]),
        ("c01", {}, ["b"]),
        ("c02", {"status": "all"}, ["d", "c"]),
        ("street", {"status": "done"}, ["a"]),
        ("street", {"status": "all", "since": "2026-12-06 14:05"}, ["d", "b", "c"]),
        ("street", {"status": "all", "device": "A"}, ["b", "a"]),
    ],
)
async def test_the_list_keeps_to_the_dispatchers_scope(console, who, query, expected):
    if "device" in query:
        query = {**query, "device": device(RUN, query["device"])}
    status, body = await call(console, who, "GET", "/api/tasks", params=query)
    assert status == 200, body
    assert ids(body) == expected
    assert datetime.fromisoformat(body["now"]).tzinfo is not None


async def test_each_listed_task_is_its_state_with_the_names_and_rfc3339_times(console):
    status, body = await call(console, "c01", "GET", "/api/tasks", params={"status": "all"})
    a = next(t for t in body["tasks"] if t["id"] == task_id(RUN, "a"))
    assert (a["worker"], a["grid_name"], a["courtyard"], a["status"]) == (
        None,
        "新文化街社区第1网格",
        COURTYARD,
        "done",
    )
    assert a["courtyard_name"].endswith("1号院")
    assert datetime.fromisoformat(a["created_at"]) == datetime(2026, 12, 6, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "query, field", [({"status": "lost"}, "status"), ({"since": "yesterday"}, "since"), ({"status": "open!"}, "status")]
)
async def test_a_bad_filter_is_refused_naming_it(console, query, field):
    assert refused(*await call(console, "street", "GET", "/api/tasks", params=query)) == (400, field)


async def test_one_task_with_its_history_in_scope_only(console):
    status, body = await call(console, "c01", "GET", f"/api/tasks/{task_id(RUN, 'a')}")
    assert status == 200, body
    assert [e["event"] for e in body["events"]] == ["created", "accepted", "arrived", "done"]
    assert [(r["action"], r["reason"]) for r in body["refusals"]] == [("act-a9", "任务已完成")]
    assert refused(*await call(console, "c02", "GET", f"/api/tasks/{task_id(RUN, 'a')}")) == (403, "task")
    assert refused(*await call(console, "street", "GET", f"/api/tasks/{task_id(RUN, 'zz')}")) == (404, "task")


async def test_who_should_go_to_a_courtyard_or_a_point(console):
    status, body = await call(console, "c01", "GET", "/api/tasks/candidates", params={"courtyard": COURTYARD})
    assert status == 200, body
    assert (body["grid"], body["grid_name"]) == (GRID_A, "新文化街社区第1网格")
    assert [(c["name"], c["status"], c["distance_m"]) for c in body["candidates"]] == [
        ("near", "on_post", 80.0),
        ("far", "on_post", 250.0),
        ("away", "off_post", 20.0),
    ]
    assert set(body["candidates"][0]) == {"device", "name", "role", "status", "distance_m", "fix_time"}
    point = {"lat": str(CENTRE[1]), "lng": str(CENTRE[0])}
    status, by_point = await call(console, "street", "GET", "/api/tasks/candidates", params=point)
    assert status == 200, by_point
    assert (by_point["grid"], by_point["candidates"]) == (GRID_A, body["candidates"])


@pytest.mark.parametrize(
    "who, query, expected",
    [
        ("c02", {"courtyard": COURTYARD}, (403, "courtyard")),
        ("street", {"courtyard": "c01-g01-y999"}, (404, "courtyard")),
        ("street", {"lat": "39.95", "lng": "116.36"}, (422, "lat")),
        ("street", {"lat": "north", "lng": "116.36"}, (400, "lat")),
        ("street", {"lat": "39.9"}, (400, "lng")),
        ("street", {}, (400, "courtyard")),
    ],
)
async def test_who_should_go_is_refused_naming_the_field(console, who, query, expected):
    assert refused(*await call(console, who, "GET", "/api/tasks/candidates", params=query)) == expected


async def test_a_create_goes_to_the_worker_with_the_body_and_the_dispatchers_token(console):
    _, tokens, got = console
    body = {"device": device(RUN, "A"), "kind": "visit_courtyard", "courtyard": COURTYARD, "arrive_within": "30m"}
    got.clear()
    status, answer = await call(console, "c01", "POST", "/api/tasks", json=body)
    assert (status, answer) == (202, {"task": None})
    assert got == [("/v1/tasks", f"Bearer {tokens['c01']}", body)]
    got.clear()
    street_body = {**body, "task": "task-x", "courtyard": None, "location": {"lat": 39.9, "lng": 116.37}}
    assert await call(console, "street", "POST", "/api/tasks", json=street_body) == (202, {"task": "task-x"})
    assert got == [("/v1/tasks", f"Bearer {tokens['street']}", street_body)]


@pytest.mark.parametrize(
    "who, body, expected",
    [
        ("read", {"courtyard": COURTYARD}, (403, "role")),
        ("c02", {"courtyard": COURTYARD}, (403, "courtyard")),
        ("c02", {"grid": GRID_A}, (403, "grid")),
        ("c02", {"location": {"lat": CENTRE[1], "lng": CENTRE[0]}}, (403, "location")),
        ("c02", {"incident": "inc-c01-00000000beef"}, (403, "location")),
        ("c02", {"note": "nowhere"}, (403, "location")),
        ("street", ["not", "an", "object"], (400, "(body)")),
    ],
)
async def test_a_create_outside_the_role_or_community_never_reaches_the_worker(console, who, body, expected):
    _, _, got = console
    got.clear()
    assert refused(*await call(console, who, "POST", "/api/tasks", json=body)) == expected
    assert got == []


async def test_a_cancel_goes_to_the_worker_as_a_cancel_action_of_the_task(console):
    _, tokens, got = console
    got.clear()
    task = task_id(RUN, "b")
    status, answer = await call(console, "c01", "POST", f"/api/tasks/{task}/cancel", json={"reason": "已另派"})
    assert (status, answer) == (202, {"task": task})
    [(path, token, action)] = got
    assert (path, token) == (f"/v1/tasks/{task}/actions", f"Bearer {tokens['c01']}")
    assert (action["action"], action["note"]) == ("cancel", "已另派") and action["id"].startswith("console-")
    got.clear()
    assert (await call(console, "street", "POST", f"/api/tasks/{task}/cancel"))[0] == 202
    assert got[0][2]["note"] == "从调度台撤销"


@pytest.mark.parametrize(
    "who, key, body, expected",
    [
        ("read", "b", {}, (403, "role")),
        ("c02", "b", {}, (403, "task")),
        ("street", "zz", {}, (404, "task")),
        ("street", "b", {"reason": 7}, (422, "reason")),
    ],
)
async def test_a_cancel_is_refused_naming_the_field(console, who, key, body, expected):
    _, _, got = console
    got.clear()
    assert refused(*await call(console, who, "POST", f"/api/tasks/{task_id(RUN, key)}/cancel", json=body)) == expected
    assert got == []
