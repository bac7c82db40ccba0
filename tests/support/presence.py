"""One hour of position history in grid c01-g01 with hand-computed "who was here" answers, written through the
real positions sink into a PostgreSQL database of its own (tests of sinks/presence.py, the console, the CLI).

From T0 (2024-02-29 10:00 in Beijing) to T0 + 1 h, offsets in seconds, P inside the triangle POLYGON:
  A  at P: 0, 30, 60, 180 (a gap of exactly the 120 s silence: same visit), 400, 430 (after 220 s: a new
     visit), 500 with an 80 m accuracy (left out; it would have stretched the visit)  -> 180 s + 30 s
  B  passing by: 270 at OUT (outside the grid), 300 at P, 330 at OUT                       -> 0 s
  C  only at OUT                                                                          -> absent
  E  at P: -30 (before the window), 3599, 3600 (the end, excluded)                      -> 0 s
  F  at R (in the grid and in the polygon's box, outside the triangle): 100, 160         -> grid only, 60 s
  G  at Q (in the grid, away from the polygon): 200                                      -> grid only, 0 s
Courtyard COURTYARD holds A's fixes at 400 and 430 and B's at 300 (set on the rows as the sink does).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg

from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY
from sinks.migrate import migrate
from sinks.partitions import PositionHistory
from sinks.postgres import PostgresSink, seed_places
from tests.support.databases import own_database

T0 = datetime(2024, 2, 29, 2, 0, tzinfo=UTC)
END = T0 + timedelta(hours=1)
GRID, COURTYARD = "c01-g01", "c01-g01-y01"
P, R, Q, OUT = (39.8964, 116.3572), (39.8970, 116.3580), (39.8955, 116.3590), (39.9007, 116.3616)
POLYGON = {
    "type": "Polygon",
    "coordinates": [[[116.3570, 39.8962], [116.3582, 39.8962], [116.3570, 39.8972], [116.3570, 39.8962]]],
}
NAME_A = ("张三", "grid_worker")  # as the roster stores it; said 网格员

FIXES = {  # device: [(offset s, point, accuracy m)]
    "A": [(s, P, 5.0) for s in (0, 30, 60, 180, 400, 430)] + [(500, P, 80.0)],
    "B": [(270, OUT, 5.0), (300, P, 5.0), (330, OUT, 5.0)],
    "C": [(s, OUT, 5.0) for s in range(0, 601, 60)],
    "E": [(-30, P, 5.0), (3599, P, 5.0), (3600, P, 5.0)],
    "F": [(100, R, 5.0), (160, R, 5.0)],
    "G": [(200, Q, 5.0)],
}
IN_COURTYARD = {("A", 400), ("A", 430), ("B", 300)}

# device: [(entry offset, exit offset, fixes)], in the order of the answer (first entry first)
GRID_ANSWER = {
    "A": [(0, 180, 4), (400, 430, 2)],
    "F": [(100, 160, 2)],
    "G": [(200, 200, 1)],
    "B": [(300, 300, 1)],
    "E": [(3599, 3599, 1)],
}
POLYGON_ANSWER = {k: v for k, v in GRID_ANSWER.items() if k in "ABE"}
COURTYARD_ANSWER = {"B": [(300, 300, 1)], "A": [(400, 430, 2)]}


def device(run: str, key: str) -> str:
    return f"presence-{run}-{key}"


def offsets(rows: list[dict], run: str) -> dict[str, list[tuple]]:
    """An answer's rows (of this run's devices) as GRID_ANSWER writes them, in the answer's order; checks
    that each row's time inside is the sum of its visits'."""
    mine = {}
    for row in rows:
        key = row["device"].removeprefix(f"presence-{run}-")
        if key == row["device"]:
            continue
        visits = [(_offset(v["entry"]), _offset(v["exit"]), v["fixes"]) for v in row["visits"]]
        assert row["seconds"] == sum(exit - entry for entry, exit, _ in visits)
        mine[key] = visits
    return mine


def _offset(when) -> int:
    when = datetime.fromisoformat(when) if isinstance(when, str) else when
    return round((when - T0).total_seconds())


@contextlib.asynccontextmanager
async def presence_database(database_url: str, run: str) -> AsyncIterator[str]:
    """A new migrated database holding the history above (and A in the roster); its URL."""
    url = await own_database(database_url, "presence")
    await migrate(url)
    await seed_places(url, load_geometry(SAMPLE_GEOMETRY))
    sink = await PostgresSink.connect(url, history=PositionHistory(retention_days=3650))
    try:
        await sink.write_positions([_batch(run, key, fixes) for key, fixes in FIXES.items()])
    finally:
        await sink.close()
    conn = await asyncpg.connect(url)
    try:
        await conn.executemany(
            "UPDATE positions SET courtyard_id = $1 WHERE device_id = $2 AND event_time = $3",
            [(COURTYARD, device(run, key), T0 + timedelta(seconds=s)) for key, s in IN_COURTYARD],
        )
        await conn.execute(
            "INSERT INTO roster_workers (device_id, name, role, grid_id, shifts) VALUES ($1, $2, $3, $4, '{}')",
            device(run, "A"),
            *NAME_A,
            GRID,
        )
    finally:
        await conn.close()
    yield url


def _batch(run: str, key: str, fixes: list) -> dict:
    """A geofenced PositionBatch as the worker publishes it: each ping with its place, and its courtyard."""
    pings = []
    for s, (lat, lng), accuracy in fixes:
        ping = {"lat": lat, "lng": lng, "accuracy": accuracy, "time": (T0 + timedelta(seconds=s)).isoformat()}
        if (lat, lng) != OUT:
            ping |= {"street": "xichangan", "community": "c01", "grid": GRID}
        else:
            ping |= {"street": "xichangan", "community": "c01", "grid": "c01-g03"}
        if (key, s) in IN_COURTYARD:
            ping["courtyard"] = COURTYARD
        pings.append(ping)
    return {"device": device(run, key), "pings": pings}
