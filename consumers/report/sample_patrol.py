"""The sample week's patrol: each worker's day shifts as the status changes the patrol monitor publishes
(streams/patrol/monitor.py `status_record`), written by the patrol sink; the workers on the roster; their walks,
a fix every WALK_STEP placed as the geofence agent places it and written by the positions sink; and the 前响应
advisories, found and claimed hour by hour by the worker's own code (streams/patrol/advisories.py) over the
stored reports.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

import asyncpg

from config.settings import Settings
from sinks.partitions import create_partitions, utc_day
from sinks.patrol import PatrolSink
from sinks.postgres import connection
from streams.geofence.registry import GridRegistry
from streams.patrol.advisories import Advisor, advise
from streams.patrol.detector import StatusChange
from streams.patrol.gps_quality import Fix
from streams.patrol.monitor import status_record

SHIFT = (timedelta(hours=8), timedelta(hours=20))  # local, from each day's midnight
OFF_POST_SHARE, OFFLINE_SHARE = 0.3, 0.12  # of the shifts with one such spell
# A sample hot spot draws a few reports a day over a few cells, so over the production window (an hour) a
# sample week would show no advisory; counting two days' reports, and advising a cell at most once a day,
# shows some, as a busy street has.
ADVISORY_WINDOW, ADVISORY_REPEAT = timedelta(days=2), timedelta(days=1)
# A fix every 5 minutes, each some 15 m from the last: a phone's 5 s would make 7 million fixes of the week,
# and the daily summary's distance counts steps up to 10 minutes apart alike.
WALK_STEP = timedelta(minutes=5)
_WALK_COLUMNS = (
    "device_id",
    "event_time",
    "lat",
    "lng",
    "accuracy",
    "street_id",
    "community_id",
    "grid_id",
    "courtyard_id",
)
_SURNAMES, _GIVEN = "王李张刘陈杨赵黄周吴", ("伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "军")


def shift_changes(device: str, grid: str, day: datetime, rng: random.Random, where: tuple[float, float]) -> list:
    """One shift of one worker: on post soon after it starts, maybe one spell off post or offline."""
    begin, end = day + SHIFT[0], day + SHIFT[1]
    fixed = begin + timedelta(minutes=rng.uniform(1, 6))
    fix = Fix(fixed, *where, 5.0)
    changes = [
        StatusChange(device, grid, "unknown", "off_duty", begin, "shift_started", None, None),
        StatusChange(device, grid, "on_post", "unknown", fixed, "first_fix_inside", fix, grid),
    ]
    for status, share, reason, back in (
        ("off_post", OFF_POST_SHARE, "outside_grid", "back_inside"),
        ("offline", OFFLINE_SHARE, "silent", "back_online"),
    ):
        if rng.random() < share:
            away = begin + timedelta(hours=rng.uniform(1, 10))
            returned = away + timedelta(minutes=rng.uniform(5, 60))
            changes.append(StatusChange(device, grid, status, "on_post", away, reason, None, None))
            changes.append(
                StatusChange(device, grid, "on_post", status, returned, back, fix._replace(time=returned), grid)
            )
    changes.sort(key=lambda c: c.at)
    changes.append(StatusChange(device, grid, "off_duty", changes[-1].status, end, "shift_ended", None, None))
    return _chained(changes)


def _chained(changes: list) -> list:
    """Each change's `previous` is the status before it: spells drawn apart may overlap in time."""
    out, status = [], "off_duty"
    for c in changes:
        if c.status != status:
            out.append(c._replace(previous=status))
            status = c.status
    return out


async def write_patrol(
    pool: asyncpg.Pool, registry: GridRegistry, start: datetime, workers: int, rng: random.Random
) -> int:
    """`workers` devices, one grid each (in turn), on the day shift every day of the week from `start`."""
    grids = sorted(registry.grids)
    records = []
    for n in range(workers):
        grid = grids[n % len(grids)]
        where = registry.geometry.grids[grid].polygons[0][0][0][::-1]  # a vertex: lat, lng of the grid
        for day in range(7):
            changes = shift_changes(f"dev-{n + 1:04d}", grid, start + timedelta(days=day), rng, where)
            records += [status_record(c) for c in changes]
    written = await PatrolSink(pool).write(records)
    return written["patrol_events"]


async def _roster(pool: asyncpg.Pool, workers: list[tuple[str, str]], tz: str) -> None:
    """The workers on the day shift, by their rows: the roster's own writer (sinks/patrol.py `store_roster`)
    replaces the major-event periods too, which the sample's incidents were made under."""
    await pool.execute(
        "INSERT INTO roster_shifts VALUES ('day', '白班', $1, $2, $3)",
        *(time(int(h.total_seconds() // 3600)) for h in SHIFT),
        tz,
    )
    await pool.executemany(
        "INSERT INTO roster_workers (device_id, name, role, grid_id, shifts) VALUES ($1, $2, 'grid_worker', $3, '{day}')",
        [(device, _SURNAMES[n % 10] + _GIVEN[n // 10 % 10], grid) for n, (device, grid) in enumerate(workers)],
    )


async def write_walks(pool: asyncpg.Pool, registry: GridRegistry, start: datetime, workers: int, tz: str) -> int:
    """The workers on the roster (day shift in `tz`, one grid each as `write_patrol` gives them) and their fixes
    over the week's shifts: a random walk from a point of the grid, each worker with a random draw of its own
    (the week's other draws stay as they were), placed as the geofence agent places them. COPYed into the days
    of `positions` as benchmarks/history.py loads them: the sink stages fixes in a table its own pool's
    connections make. Returns the fixes written."""
    grids = sorted(registry.grids)
    await _roster(pool, [(f"dev-{n + 1:04d}", grids[n % len(grids)]) for n in range(workers)], tz)
    rows = []
    for n in range(workers):
        rng = random.Random(n)
        here = registry.geometry.grids[grids[n % len(grids)]].polygons[0][0][0][::-1]
        for day in range(7):
            at, end = start + timedelta(days=day) + SHIFT[0], start + timedelta(days=day) + SHIFT[1]
            while at < end:
                here, place = _step(registry, here, rng)
                rows.append((f"dev-{n + 1:04d}", at, *here, 5.0, *place))
                at += WALK_STEP
    async with connection(pool) as conn:
        async with conn.transaction():
            await create_partitions(conn, sorted({utc_day(r[1]) for r in rows}))
        await conn.copy_records_to_table("positions", records=rows, columns=_WALK_COLUMNS)
    return len(rows)


def _step(registry: GridRegistry, here: tuple[float, float], rng: random.Random) -> tuple[tuple, tuple]:
    """About 15 m from `here` to a point in a grid, and its street, community, grid and courtyard."""
    while True:
        lat, lng = round(here[0] + rng.gauss(0, 0.0001), 6), round(here[1] + rng.gauss(0, 0.00013), 6)
        place = registry.locate(lat, lng)
        if not place.outside:
            return (lat, lng), (place.street, place.community, place.grid, place.courtyard)


async def write_advisories(pool: asyncpg.Pool, registry: GridRegistry, settings: Settings, start, end) -> int:
    """Advisories as the worker would have claimed them, looked for every hour of the week."""
    places = {g.id: (registry.communities[g.parent].parent, g.parent) for g in registry.grids.values()}
    advisor = Advisor(
        settings.advisory_min_reports,
        ADVISORY_REPEAT,
        ADVISORY_WINDOW,
        places.__getitem__,
        settings.timezone,
    )
    sent: list[dict] = []

    async def send(alerts: list[dict]) -> None:
        sent.extend(alerts)

    now = start + timedelta(hours=1)
    while now <= end:
        await advise(pool, advisor, now, lambda grid: [], send)
        now += timedelta(hours=1)
    return len(sent)
