"""Tasks in PostgreSQL (sinks/tasks.py, sinks/task_candidates.py): the sink keeps one row per task holding the
newest state whatever the order and however often a batch comes, every event once and every refusal once; the
reads of the phone, the console and the rebuild against the hand-made street of tests/support/task_rows.py; who
should go, in order, from a grid of workers on post, off post, off duty and offline at known distances."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from config.crs import METRES_PER_DEGREE
from config.geometry import load_geometry
from config.roster import build_roster
from config.settings import SAMPLE_GEOMETRY
from consumers.batch import BatchConsumer, SinkMetrics
from consumers.sink import batch_sinks
from schemas import json
from sinks.incident_history import Progress, written_offsets
from sinks.migrate import migrate
from sinks.postgres import PostgresSink, seed_places
from sinks.task_candidates import candidates, grid_roster
from sinks.tasks import TaskSink, owner_of, task_detail, task_snapshot, tasks_in_scope, tasks_of_device
from streams.broker_epoch import broker_epoch
from streams.topics import ensure_topics
from tests.support.databases import own_database
from tests.support.task_rows import COURTYARD, GRID_A, T0, at, device, street, task_id

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
TOPIC, EPOCH = f"tasks-{RUN}", "epoch-1"


@pytest.fixture(scope="module")
async def written(database_url):
    """A database of its own holding the street's tasks, written shuffled and twice, with the places and A's name."""
    url = await own_database(database_url, "tasks")
    await migrate(url)
    await seed_places(url, load_geometry(SAMPLE_GEOMETRY))
    pool = await asyncpg.create_pool(url, min_size=0, max_size=2)
    events = street(RUN)
    shuffled = random.Random(18).sample(events, len(events))
    sink = TaskSink(pool)
    first = await sink.write(shuffled[:7], Progress(TOPIC, EPOCH, {0: 7}))
    rest = await sink.write(shuffled[7:], Progress(TOPIC, EPOCH, {0: 9, 1: 4}))
    again = await sink.write(events)
    await pool.execute("INSERT INTO roster_shifts VALUES ('day', '白班', '08:00', '20:00', 'Asia/Shanghai')")
    await pool.execute(
        "INSERT INTO roster_workers (device_id, name, role, grid_id, shifts) VALUES ($1, '张三', 'grid_worker', $2, '{day}')",
        device(RUN, "A"),
        GRID_A,
    )
    try:
        yield pool, (first, rest, again)
    finally:
        await pool.close()


def ids(rows: list[dict]) -> list[str]:
    return [r["id"].removeprefix(f"task-{RUN}-") for r in rows]


async def test_one_row_per_task_holds_the_newest_state_and_every_event_is_kept_once(written):
    pool, (first, rest, again) = written
    assert first["task_events"] + rest["task_events"] == 10 and again == {"task_events": 0, "task_refusals": 0}
    assert first["task_refusals"] + rest["task_refusals"] == 2
    rows = {r["id"]: r for r in await pool.fetch("SELECT * FROM tasks WHERE id LIKE $1", f"task-{RUN}-%")}
    assert {k: (r["seq"], r["status"]) for k, r in rows.items()} == {
        task_id(RUN, "a"): (4, "done"),
        task_id(RUN, "b"): (1, "open"),
        task_id(RUN, "c"): (2, "cancelled"),
        task_id(RUN, "d"): (3, "open"),
    }
    a, d = rows[task_id(RUN, "a")], rows[task_id(RUN, "d")]
    assert (a["device"], a["created_by"], a["created_role"], a["community_id"], a["grid_id"], a["courtyard_id"]) == (
        device(RUN, "A"),
        "disp-c01",
        "community",
        "c01",
        GRID_A,
        COURTYARD,
    )
    assert (a["lat"], a["lng"], a["radius_m"], a["note"], a["incident_id"], a["report_id"]) == (
        39.8964,
        116.3572,
        30.0,
        "入院走访",
        None,
        None,
    )
    times = ("created_at", "arrive_by", "done_by", "accepted_at", "arrived_at", "done_at")
    assert [a[c] for c in times] == [datetime.fromisoformat(at(m)) for m in (0, 30, 120, 2, 9, 20)]
    assert (a["arrive_seconds"], a["unconfirmed"], a["late_arrive"], a["late_done"]) == (540.0, False, None, None)
    assert (d["late_arrive"], d["late_done"], d["accepted_at"]) == (datetime.fromisoformat(at(70)), None, None)
    events = await pool.fetch("SELECT task_id, seq, event FROM task_events WHERE task_id LIKE $1", f"task-{RUN}-%")
    assert sorted((e["task_id"][-1], e["seq"], e["event"]) for e in events) == [
        ("a", 1, "created"),
        ("a", 2, "accepted"),
        ("a", 3, "arrived"),
        ("a", 4, "done"),
        ("b", 1, "created"),
        ("c", 1, "created"),
        ("c", 2, "cancelled"),
        ("d", 1, "created"),
        ("d", 2, "warned"),
        ("d", 3, "late"),
    ]
    refusals = await pool.fetch("SELECT action_id, task_id FROM task_refusals ORDER BY action_id")
    assert [(r["action_id"], r["task_id"]) for r in refusals] == [
        ("act-a9", task_id(RUN, "a")),
        (f"act-zz-{RUN}", task_id(RUN, "zz")),
    ]


async def test_a_phone_reads_its_open_tasks_first_and_closed_ones_since_a_time(written):
    pool, _ = written
    assert ids(await tasks_of_device(pool, device(RUN, "A"))) == ["b"]
    assert ids(await tasks_of_device(pool, device(RUN, "A"), include_closed_since=T0)) == ["b", "a"]
    late = T0 + timedelta(minutes=21)  # task a closed at 20
    assert ids(await tasks_of_device(pool, device(RUN, "A"), include_closed_since=late)) == ["b"]
    assert ids(await tasks_of_device(pool, device(RUN, "B"), include_closed_since=T0)) == ["d", "c"]
    assert ids(await tasks_of_device(pool, device(RUN, "B"), include_closed_since=T0, limit=1)) == ["d"]
    mine = (await tasks_of_device(pool, device(RUN, "A"), include_closed_since=T0))[1]
    assert (mine["status"], mine["done_note"], mine["seq"]) == ("done", "已登记", 4)


@pytest.mark.parametrize(
    "scope, expected",
    [
        ({}, ["d", "b"]),
        ({"community": "c01"}, ["b"]),
        ({"community": "c01", "status": None}, ["b", "a"]),
        ({"status": None}, ["d", "b", "c", "a"]),
        ({"status": "done"}, ["a"]),
        ({"status": "cancelled", "community": "c01"}, []),
        ({"status": None, "since": T0 + timedelta(minutes=5)}, ["d", "b", "c"]),
        ({"status": None, "device": "B"}, ["d", "c"]),
        ({"status": None, "limit": 2}, ["d", "b"]),
    ],
)
async def test_the_console_lists_a_scope_open_first_then_newest(written, scope, expected):
    pool, _ = written
    if "device" in scope:
        scope["device"] = device(RUN, scope["device"])
    assert ids(await tasks_in_scope(pool, **scope)) == expected


async def test_the_console_list_names_the_worker_the_courtyard_and_the_grid(written):
    pool, _ = written
    a = next(t for t in await tasks_in_scope(pool, status=None, community="c01") if t["id"] == task_id(RUN, "a"))
    assert (a["worker"], a["grid_name"], a["courtyard"], a["status"]) == (
        "张三",
        "新文化街社区第1网格",
        COURTYARD,
        "done",
    )
    assert a["courtyard_name"].endswith("1号院")
    d = (await tasks_in_scope(pool, community="c02"))[0]
    assert (d["worker"], d["courtyard_name"], d["late"]) == (None, None, {"arrive": at(70)})


async def test_one_task_with_its_history_and_refusals(written):
    pool, _ = written
    detail = await task_detail(pool, task_id(RUN, "a"))
    assert detail["task"]["status"] == "done"
    assert [(e["seq"], e["event"], e["actor"]) for e in detail["events"]] == [
        (1, "created", "disp-c01"),
        (2, "accepted", device(RUN, "A")),
        (3, "arrived", "gps"),
        (4, "done", device(RUN, "A")),
    ]
    assert detail["events"][2]["when"] == datetime.fromisoformat(at(10))
    assert detail["refusals"] == [
        {"action": "act-a9", "when": datetime.fromisoformat(at(21)), "actor": device(RUN, "A"), "reason": "任务已完成"}
    ]
    cancelled = await task_detail(pool, task_id(RUN, "c"))
    assert [(e["event"], e["reason"]) for e in cancelled["events"]] == [("created", None), ("cancelled", "重复派发")]
    assert await task_detail(pool, task_id(RUN, "zz")) is None
    assert (await owner_of(pool, task_id(RUN, "c")))[0] == device(RUN, "B")
    assert await owner_of(pool, task_id(RUN, "zz")) is None


async def test_the_snapshot_holds_the_open_tasks_of_owned_devices_and_the_offsets_written(written):
    pool, _ = written
    states, offsets = await task_snapshot(pool, TOPIC, EPOCH, lambda d: d == device(RUN, "B"))
    assert offsets == {0: 9, 1: 4}
    assert [(s["task"], s["seq"], s["event"], s["state"]["late"]) for s in states] == [
        (task_id(RUN, "d"), 3, "late", {"arrive": at(70)})
    ]
    states, offsets = await task_snapshot(pool, TOPIC, "epoch-2", lambda d: d.startswith(f"tasks-{RUN}-"))
    assert (sorted(s["task"] for s in states), offsets) == ([task_id(RUN, "b"), task_id(RUN, "d")], {})


# Who should go: a grid's workers at known distances north of the task's point; a shift of the day, one of the night.
POINT = (39.9, 116.36)
NOW = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)  # 14:00 in Beijing: the day shift
WORKERS = {  # key: (grid, shift, patrol status or None, metres north or None, from the status row only)
    "on-far": (GRID_A, "day", "on_post", 300.0, True),
    "on-near": (GRID_A, "day", "on_post", 100.0, False),
    "off-post": (GRID_A, "day", "off_post", 50.0, False),
    "no-status": (GRID_A, "day", None, None, False),
    "unknown": (GRID_A, "day", "unknown", 200.0, False),
    "late-shift": (GRID_A, "day", "off_duty", 400.0, False),
    "offline": (GRID_A, "day", "offline", 10.0, False),
    "night": (GRID_A, "night", "on_post", 5.0, False),
    "elsewhere": ("c01-g02", "day", "on_post", 1.0, False),
}


def roster(run: str):
    return build_roster(
        "Asia/Shanghai",
        [{"id": "day", "start": "08:00", "end": "20:00"}, {"id": "night", "start": "20:00", "end": "08:00"}],
        [
            {"device": f"cand-{run}-{k}", "name": k, "role": "grid_worker", "grid": g, "shifts": [s]}
            for k, (g, s, *_) in WORKERS.items()
        ],
        "test roster",
    )


@pytest.fixture(scope="module")
async def grid_of_workers(written):
    pool, _ = written
    fix_time = NOW - timedelta(seconds=30)
    for key, (grid, _, status, metres, status_only) in WORKERS.items():
        dev, lat = f"cand-{RUN}-{key}", None if metres is None else POINT[0] + metres / METRES_PER_DEGREE
        if status:
            # The status row's own fix lies 1 km off: a newer fix in latest_positions must win over it.
            fix = (lat, POINT[1]) if status_only else (POINT[0] + 0.009, POINT[1])
            await pool.execute(
                "INSERT INTO patrol_status (device_id, grid_id, status, since, reason, fix_time, lat, lng, accuracy) "
                "VALUES ($1, $2, $3, $4, 'test', $5, $6, $7, 5)",
                *(dev, grid, status, NOW - timedelta(hours=1), fix_time - timedelta(minutes=5), *fix),
            )
        if lat is not None and not status_only:
            await pool.execute(
                "INSERT INTO latest_positions (device_id, event_time, lat, lng, accuracy) VALUES ($1, $2, $3, $4, 5)",
                *(dev, fix_time, lat, POINT[1]),
            )
    return pool


async def test_who_should_go_on_post_nearest_first_then_on_duty_nearest_first_no_fix_last(grid_of_workers):
    found = await candidates(grid_of_workers, roster(RUN), GRID_A, *POINT, NOW)
    assert [(c.name, c.status, c.distance_m and round(c.distance_m, 3)) for c in found] == [
        ("on-near", "on_post", 100.0),
        ("on-far", "on_post", 300.0),
        ("off-post", "off_post", 50.0),
        ("unknown", "unknown", 200.0),
        ("late-shift", "unknown", 400.0),
        ("no-status", "unknown", None),
    ]
    assert found[0].fix_time == NOW - timedelta(seconds=30) and found[1].fix_time == NOW - timedelta(
        minutes=5, seconds=30
    )
    assert (found[0].device, found[0].role, found[0].grid) == (f"cand-{RUN}-on-near", "grid_worker", GRID_A)
    night = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)  # 22:00 in Beijing
    assert [c.name for c in await candidates(grid_of_workers, roster(RUN), GRID_A, *POINT, night)] == ["night"]
    assert await candidates(grid_of_workers, roster(RUN), "c09-g09", *POINT, NOW) == []


async def test_the_stored_roster_of_one_grid_is_what_candidates_takes(grid_of_workers):
    pool = grid_of_workers
    await pool.execute(
        "INSERT INTO roster_workers (device_id, name, role, grid_id, shifts) VALUES ($1, '李四', 'grid_chief', $2, '{day}')",
        f"cand-{RUN}-on-near",
        GRID_A,
    )
    stored = await grid_roster(pool, GRID_A)
    assert sorted(stored.workers) == sorted([f"cand-{RUN}-on-near", device(RUN, "A")])
    found = await candidates(pool, stored, GRID_A, *POINT, NOW)
    assert [(c.name, c.role, c.status) for c in found] == [
        ("李四", "grid_chief", "on_post"),
        ("张三", "grid_worker", "unknown"),
    ]
    assert await candidates(pool, stored, GRID_A, *POINT, NOW + timedelta(hours=8)) == []  # 22:00: off duty


async def test_the_sink_process_drains_the_tasks_topic_and_records_how_far(settings, scratch):
    """The `tasks` entry of consumers/sink.py against the real broker: every event stored, and the offsets the
    rebuild starts from in sink_offsets, in this broker's epoch."""
    run = uuid.uuid4().hex[:8]
    s = dataclasses.replace(settings, topic_tasks=f"test.tasks.{run}", sink_batch_size=4)
    await ensure_topics(s, (s.topic_tasks,))
    events = street(run)
    producer = AIOKafkaProducer(bootstrap_servers=s.broker)
    await producer.start()
    try:
        sent = [await producer.send_and_wait(s.topic_tasks, json.dumps(e), key=e["device"].encode()) for e in events]
    finally:
        await producer.stop()
    ends = {}
    for m in sent:
        ends[m.partition] = max(ends.get(m.partition, 0), m.offset + 1)
    sink = await PostgresSink.connect(scratch)
    stop = asyncio.Event()
    spec = next(b for b in batch_sinks(s, sink, f"test-tasks-{run}") if b.name == "tasks")
    task = asyncio.create_task(BatchConsumer(s, spec, SinkMetrics(CollectorRegistry())).run(stop))
    try:
        epoch = await broker_epoch(s)
        for _ in range(150):
            if await written_offsets(sink.pool, s.topic_tasks, epoch) == ends:
                break
            await asyncio.sleep(0.1)
        assert await written_offsets(sink.pool, s.topic_tasks, epoch) == ends
        assert await sink.pool.fetchval("SELECT count(*) FROM task_events") == 10
        assert await sink.pool.fetchval("SELECT count(*) FROM task_refusals") == 2
        states, _ = await task_snapshot(sink.pool, s.topic_tasks, epoch, lambda d: True)
        assert sorted(e["id"] for e in states) == [f"{task_id(run, 'b')}:1", f"{task_id(run, 'd')}:3"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await sink.close()
