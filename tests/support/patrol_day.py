"""One day of patrol (Thursday 2026-12-03 in Beijing) for three rostered workers, with the daily summary
computed by hand, written into a PostgreSQL database of its own (tests of sinks/patrol_day.py, the console,
the CLI). Times are Beijing's; 0.001 degree of latitude is 111.32 m (config/crs.py METRES_PER_DEGREE).

Shifts: day 08:00-17:00, late 16:00-20:00, night 22:00-06:00 (past midnight).
W1 张三 网格员 c01-g01 [day]
  on duty  08:00-17:00                                                    = 9 h      = 32400 s
  on post  off_duty from the day before; 08:00 unknown, 08:05 on_post, 10:00 off_post, 10:30 on_post,
           17:00 off_duty: 1 h 55 + 6 h 30                                = 30300 s
  fixes    (lng 116.3572) 12-02 23:59 (the day before: no step into the day), 08:00 lat 39.8960,
           08:01 .8970 and 08:02 .8980 in courtyard c01-g01-y01, 08:03 .8990 flagged (c01-g03, left out),
           08:04 .8970, 08:05 .8960 at 80 m (c01-g04, left out), 08:19 .8950 (15 min after 08:04: a gap,
           not walked), 08:19:30 .8960 in c01-g02, 08:20 .8970 back in c01-g01
  walked   08:00->08:01, 08:01->08:02, 08:02->08:04, 08:19->08:19:30->08:20: 5 x 111.32   = 556.60 m
  places   grids c01-g01, c01-g02; courtyard c01-g01-y01
  reports  09:10, 13:00 (and one the evening before)                      = 2
  tasks    done 09:00 (arrived in 600 s), 11:00 (1200 s), 12:00 with no arrival (unconfirmed), and one
           the day before: 3 done, 1 unconfirmed, median of 600 and 1200     = 900 s
W2 李四 志愿者 c01-g02 [night]
  on duty  00:00-06:00 + 22:00-24:00                                      = 8 h      = 28800 s
  on post  on_post since 12-02 22:10; 03:00 offline, 03:20 on_post, 06:00 off_duty, 22:00 unknown,
           22:02 on_post: 3 h + 2 h 40 + 1 h 58                           = 27480 s
  fixes    (lng 116.3600) 00:30 lat 39.9000, 00:31 .9010; 22:30 .9000, 22:31 .8990, 22:32 .8980;
           12-04 00:00 (the next day): 3 x 111.32                         = 333.96 m, grid c01-g02
  reports  23:59:59 = 1;  tasks  done 05:00 (300 s) = 1 done, 0 unconfirmed, median 300 s
W3 王五 网格长 c02-g01 [day, late, night]
  on duty  00:00-06:00 + 08:00-20:00 (day and late overlap: once) + 22:00-24:00 = 20 h = 72000 s
  on post  16:00 on_post, 12-04 09:00 off_duty: 16:00-24:00               = 28800 s
  no fixes, no reports; tasks: one accepted, one cancelled: none done, median none
A device off the roster (X) has fixes and a report and appears nowhere.
At noon (NOON) W1 has been on duty 4 h (14400 s), on post 1 h 55 + 1 h 30 (12300 s), has done 2 tasks
(the 12:00 one is not yet), none unconfirmed, median 900 s.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY
from sinks.migrate import migrate
from sinks.postgres import seed_places
from tests.support.databases import own_database

DAY = date(2026, 12, 3)
BEIJING = ZoneInfo("Asia/Shanghai")


def at(clock: str, days: int = 0) -> datetime:
    """`08:05` (or `08:19:30`) on DAY + `days` in Beijing."""
    return datetime.combine(DAY + timedelta(days=days), time.fromisoformat(clock), BEIJING)


NOON = at("12:00")
SHIFTS = [
    ("day", "白班", time(8), time(17)),
    ("late", "晚班", time(16), time(20)),
    ("night", "夜班", time(22), time(6)),
]
WORKERS = [
    ("W1", "张三", "grid_worker", "c01-g01", ["day"]),
    ("W2", "李四", "volunteer", "c01-g02", ["night"]),
    ("W3", "王五", "grid_chief", "c02-g01", ["day", "late", "night"]),
]
EVENTS = {
    "W1": [("off_duty", at("17:00", -1)), ("unknown", at("08:00")), ("on_post", at("08:05"))]
    + [("off_post", at("10:00")), ("on_post", at("10:30")), ("off_duty", at("17:00"))],
    "W2": [("on_post", at("22:10", -1)), ("offline", at("03:00")), ("on_post", at("03:20"))]
    + [("off_duty", at("06:00")), ("unknown", at("22:00")), ("on_post", at("22:02"))],
    "W3": [("on_post", at("16:00")), ("off_duty", at("09:00", 1))],
}
FIXES = [  # device, time, lat, lng, accuracy m, grid, courtyard
    ("W1", at("23:59", -1), 39.9000, 116.3572, 5.0, "c01-g01", None),
    ("W1", at("08:00"), 39.8960, 116.3572, 5.0, "c01-g01", None),
    ("W1", at("08:01"), 39.8970, 116.3572, 5.0, "c01-g01", "c01-g01-y01"),
    ("W1", at("08:02"), 39.8980, 116.3572, 5.0, "c01-g01", "c01-g01-y01"),
    ("W1", at("08:03"), 39.8990, 116.3572, 5.0, "c01-g03", "c01-g03-y01"),  # flagged
    ("W1", at("08:04"), 39.8970, 116.3572, 5.0, "c01-g01", None),
    ("W1", at("08:05"), 39.8960, 116.3572, 80.0, "c01-g04", None),
    ("W1", at("08:19"), 39.8950, 116.3572, 5.0, "c01-g01", None),
    ("W1", at("08:19:30"), 39.8960, 116.3572, 5.0, "c01-g02", None),
    ("W1", at("08:20"), 39.8970, 116.3572, 5.0, "c01-g01", None),
    ("W2", at("00:30"), 39.9000, 116.3600, 5.0, "c01-g02", None),
    ("W2", at("00:31"), 39.9010, 116.3600, 5.0, "c01-g02", None),
    ("W2", at("22:30"), 39.9000, 116.3600, 5.0, "c01-g02", None),
    ("W2", at("22:31"), 39.8990, 116.3600, 5.0, "c01-g02", None),
    ("W2", at("22:32"), 39.8980, 116.3600, 5.0, "c01-g02", None),
    ("W2", at("00:00", 1), 39.8970, 116.3600, 5.0, "c01-g02", None),
    ("X", at("09:00"), 39.8960, 116.3572, 5.0, "c01-g01", None),
    ("X", at("09:01"), 39.8970, 116.3572, 5.0, "c01-g01", None),
]
FLAGGED = [("W1", at("08:03"))]
REPORTS = [
    ("W1", at("09:10")),
    ("W1", at("13:00")),
    ("W1", at("20:00", -1)),
    ("W2", at("23:59:59")),
    ("X", at("09:00")),
]
TASKS = [  # device, status, done at, arrive seconds, unconfirmed
    ("W1", "done", at("09:00"), 600.0, False),
    ("W1", "done", at("11:00"), 1200.0, False),
    ("W1", "done", at("12:00"), None, True),
    ("W1", "done", at("15:00", -1), 60.0, False),
    ("W2", "done", at("05:00"), 300.0, False),
    ("W3", "accepted", None, None, False),
    ("W3", "cancelled", None, None, False),
]

ANSWER = {  # device: on duty, on post, distance, grids, courtyards, reports, done, unconfirmed, median arrival
    "W1": (32400.0, 30300.0, 5 * 111.32, ("c01-g01", "c01-g02"), ("c01-g01-y01",), 2, 3, 1, 900.0),
    "W2": (28800.0, 27480.0, 3 * 111.32, ("c01-g02",), (), 1, 1, 0, 300.0),
    "W3": (72000.0, 28800.0, 0.0, (), (), 0, 0, 0, None),
}
AT_NOON_W1 = (14400.0, 12300.0, 5 * 111.32, ("c01-g01", "c01-g02"), ("c01-g01-y01",), 1, 2, 0, 900.0)


@contextlib.asynccontextmanager
async def patrol_day_database(database_url: str) -> AsyncIterator[str]:
    """A new migrated database holding the day above; its URL."""
    url = await own_database(database_url, "patrol_day")
    await migrate(url)
    await seed_places(url, load_geometry(SAMPLE_GEOMETRY))
    conn = await asyncpg.connect(url)
    try:
        await write_day(conn)
    finally:
        await conn.close()
    yield url


async def write_day(conn: asyncpg.Connection) -> None:
    await conn.executemany(
        "INSERT INTO roster_shifts VALUES ($1, $2, $3, $4, 'Asia/Shanghai')", [tuple(s) for s in SHIFTS]
    )
    await conn.executemany(
        "INSERT INTO roster_workers (device_id, name, role, grid_id, shifts) VALUES ($1, $2, $3, $4, $5)", WORKERS
    )
    await conn.executemany(
        "INSERT INTO patrol_events (id, device_id, grid_id, status, previous, reason, event_time) "
        "VALUES ($1, $2, 'c01-g01', $3, 'unknown', 'test', $4)",
        [(f"{d}:{s}:{t.isoformat()}", d, s, t) for d, changes in EVENTS.items() for s, t in changes],
    )
    for day in (DAY - timedelta(days=1), DAY, DAY + timedelta(days=1)):
        await conn.execute("SELECT positions_create_partition($1)", day)
    await conn.executemany(
        "INSERT INTO positions (device_id, event_time, lat, lng, accuracy, street_id, community_id, grid_id, "
        "courtyard_id) VALUES ($1, $2, $3, $4, $5, 'xichangan', split_part($6, '-', 1), $6, $7)",
        FIXES,
    )
    await conn.executemany(
        "INSERT INTO position_flags (device_id, event_time, reason) VALUES ($1, $2, 'impossible_speed')", FLAGGED
    )
    await conn.executemany(
        "INSERT INTO reports (id, device_id, category, severity, text, lat, lng, event_time, cell) "
        "VALUES ($1, $2, 'other', 'low', '', 39.8960, 116.3572, $3, 'x')",
        [(f"r{i}", d, t) for i, (d, t) in enumerate(REPORTS)],
    )
    await conn.executemany(
        "INSERT INTO tasks (id, kind, status, device, created_by, created_role, lat, lng, radius_m, note, "
        "created_at, arrive_by, done_by, done_at, arrive_seconds, unconfirmed, seq, state) "
        "VALUES ($1, 'visit_courtyard', $2, $3, 'd1', 'street', 39.8960, 116.3572, 30, '', $7, $7, $7, $4, $5, $6, 1, '{}')",
        [
            (f"task-{i}", s, d, done, arrive, unconfirmed, at("00:00", -2))
            for i, (d, s, done, arrive, unconfirmed) in enumerate(TASKS)
        ],
    )
