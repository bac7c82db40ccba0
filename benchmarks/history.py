"""How fast "who was here" (sinks/presence.py) answers over a street's position history, in an embedded
PostgreSQL of its own:

    python -m benchmarks.history [--workers 200] [--days 30] [--fix-seconds 5] [--queries 60]

1. the history: each worker walks an 8-hour shift a day (08:00 or 14:00 in Beijing) around its grid, dwelling a
   few minutes at each place it goes to, a fix every --fix-seconds; each fix placed by the registry in its grid
   and its courtyard (the sample's 1,440; the lanes between them are in none). Four shift walks per worker are
   COPYed into a staging table, and each day is made from them in SQL (one worker walks one of its four each
   day); the indexes of the migrations are built after the load, as a restore would;
2. who was here for random courtyards, grids and drawn polygons (a quadrilateral 50-300 m across around a place
   somebody walked), each over a random window of 1 hour to 7 days, timed end to end (query and visits);
3. the daily patrol summary (sinks/patrol_day.py) of every worker for one day of the history, on the roster of
   their two shifts.
The last line: `who-was-here p95 N ms over M fixes`. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from config.crs import METRES_PER_DEGREE, metres_per_degree_lng
from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY
from sinks.migrate import migrate
from sinks.patrol_day import patrol_day
from sinks.postgres import seed_places
from sinks.presence import Fence, drawn, who_was_here
from streams.demo.embedded import EmbeddedPostgres
from streams.geofence.registry import GridRegistry

SHIFT_SECONDS = 8 * 3600
SHIFT_STARTS_UTC = (0, 6 * 3600)  # 08:00 and 14:00 in Beijing
WALKS = 4  # shift walks per worker, one of them each day
WALK_MPS = 1.2
WINDOWS_HOURS = (1, 168)


def shift_walk(rng: random.Random, registry: GridRegistry, home: tuple[float, float], fix_seconds: int) -> list[tuple]:
    """(lat, lng, accuracy, community, grid, courtyard) of one shift: to a place near home, a dwell, the next."""
    lat, lng = home
    fixes, (east, north) = [], (metres_per_degree_lng(home[0]), METRES_PER_DEGREE)
    while len(fixes) * fix_seconds < SHIFT_SECONDS:
        to_lat, to_lng = home[0] + rng.gauss(0, 200) / north, home[1] + rng.gauss(0, 200) / east
        metres = math.hypot((to_lat - lat) * north, (to_lng - lng) * east)
        steps = max(1, round(metres / (WALK_MPS * fix_seconds)))
        path = [(lat + (to_lat - lat) * k / steps, lng + (to_lng - lng) * k / steps) for k in range(1, steps + 1)]
        path += [(to_lat + rng.gauss(0, 3) / north, to_lng + rng.gauss(0, 3) / east)] * rng.randint(12, 120)
        fixes.extend(path)
        lat, lng = to_lat, to_lng
    out = []
    for lat, lng in fixes[: SHIFT_SECONDS // fix_seconds]:
        place = registry.locate(lat, lng)
        out.append((lat, lng, round(rng.uniform(3, 12), 1), place.community, place.grid, place.courtyard))
    return out


async def load(conn: asyncpg.Connection, args, registry: GridRegistry, rng: random.Random) -> datetime:
    """The history (see the docstring), ending at today's UTC midnight; returns where it starts."""
    grids = list(registry.grids.values())
    rows = []
    for worker in range(args.workers):
        ring = grids[worker % len(grids)].rings[0]
        home = (sum(y for _, y in ring[:-1]) / (len(ring) - 1), sum(x for x, _ in ring[:-1]) / (len(ring) - 1))
        for walk in range(WALKS):
            for seq, fix in enumerate(shift_walk(rng, registry, home, args.fix_seconds)):
                rows.append((worker, walk, seq, *fix))
    await conn.execute(
        "CREATE UNLOGGED TABLE bench_walks (worker int, walk int, seq int, lat float8, lng float8, accuracy float4, "
        "community text, grid text, courtyard text)"
    )
    await conn.copy_records_to_table("bench_walks", records=rows)
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=args.days)
    kept = await conn.fetch(
        "SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS sql FROM pg_index "
        "WHERE indrelid = 'positions'::regclass AND NOT indisprimary"
    )
    for index in kept:  # built after the load, as a restore does: a day's rows go in without them
        await conn.execute(f"DROP INDEX {index['name']}")
    for day in range(args.days):
        start = first + timedelta(days=day)
        await conn.execute("SELECT positions_create_partition($1)", start.date())
        await conn.execute(_DAY, start, args.fix_seconds, day, WALKS, list(SHIFT_STARTS_UTC))
    for index in kept:
        started = time.perf_counter()
        # The definition of a partitioned index reads ON ONLY (the parent alone): build every day's too.
        await conn.execute(index["sql"].replace(" ON ONLY ", " ON ", 1))
        print(f"index {index['name']}: {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    # As autovacuum leaves a day behind it on a live database: hint bits set, statistics taken.
    await conn.execute("VACUUM (ANALYZE) positions")
    print(f"vacuum and analyze: {time.perf_counter() - started:.0f} s", flush=True)
    return first


_DAY = """
INSERT INTO positions (device_id, event_time, lat, lng, accuracy, street_id, community_id, grid_id, courtyard_id)
SELECT 'bench-' || lpad(worker::text, 3, '0'),
       $1::timestamptz + make_interval(secs => ($5::int[])[worker % 2 + 1] + seq * $2),
       lat, lng, accuracy, CASE WHEN grid IS NULL THEN NULL ELSE 'xichangan' END, community, grid, courtyard
FROM bench_walks WHERE walk = (worker * 7 + $3 * 13) % $4
"""


async def targets(conn: asyncpg.Connection, rng: random.Random, n: int) -> list[Fence]:
    """n each of courtyards and grids walked in, and of drawn quadrilaterals around places walked to."""
    places = await conn.fetch(
        "SELECT grid, courtyard, lat, lng FROM bench_walks WHERE courtyard IS NOT NULL AND seq % 97 = 0"
    )
    fences = []
    for place in rng.sample(places, n):
        fences += [Fence("courtyard", place["courtyard"]), Fence("grid", place["grid"]), quadrilateral(rng, place)]
    return fences


def quadrilateral(rng: random.Random, place) -> Fence:
    radius, lat, lng = rng.uniform(25, 150), place["lat"], place["lng"]
    corners = []
    for k in range(4):
        angle = math.pi / 2 * k + rng.uniform(-0.5, 0.5)
        corners.append(
            [
                lng + radius * math.cos(angle) / metres_per_degree_lng(lat),
                lat + radius * math.sin(angle) / METRES_PER_DEGREE,
            ]
        )
    return drawn({"type": "Polygon", "coordinates": [corners + corners[:1]]})


async def measure(url: str, fences: list[Fence], first: datetime, days: int, rng: random.Random) -> dict[str, list]:
    """Seconds per query by kind, each over a random window inside the history."""
    timings: dict[str, list] = {"courtyard": [], "grid": [], "polygon": []}
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        for fence in fences:
            hours = min(rng.uniform(*WINDOWS_HOURS), days * 24)
            start = first + timedelta(hours=rng.uniform(0, days * 24 - hours))
            started = time.perf_counter()
            found = await who_was_here(
                pool, fence, start, start + timedelta(hours=hours), silence=timedelta(minutes=2), max_accuracy_m=50.0
            )
            timings[fence.kind].append((time.perf_counter() - started, hours, len(found)))
    finally:
        await pool.close()
    return timings


async def patrol_day_time(url: str, conn: asyncpg.Connection, args, first: datetime) -> str:
    """The daily summary of every worker for the history's middle day, on a roster of the two shifts."""
    await conn.execute(
        "INSERT INTO roster_shifts (id, name, starts, ends, timezone) VALUES "
        "('early', '早班', '08:00', '16:00', 'Asia/Shanghai'), ('late', '晚班', '14:00', '22:00', 'Asia/Shanghai')"
    )
    await conn.executemany(
        "INSERT INTO roster_workers (device_id, name, role, grid_id, shifts) "
        "VALUES ($1, $1, 'grid_worker', $2, ARRAY[$3])",
        [(f"bench-{w:03d}", grid, ("early", "late")[w % 2]) for w, grid in await _homes(conn)],
    )
    day = (first + timedelta(days=args.days // 2, hours=8)).date()  # a Beijing day that the history covers whole
    started = time.perf_counter()
    found = await patrol_day(url, day, "Asia/Shanghai")
    took = time.perf_counter() - started
    fixes = sum(1 for w in found if w.distance_m > 0)
    return f"patrol day: {took * 1000:.0f} ms for {len(found)} workers ({fixes} walked) on {day}"


async def _homes(conn: asyncpg.Connection) -> list[tuple[int, str]]:
    return [
        (r["worker"], r["grid"])
        for r in await conn.fetch(
            "SELECT DISTINCT ON (worker) worker, grid FROM bench_walks WHERE grid IS NOT NULL ORDER BY worker, seq"
        )
    ]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


async def main(args) -> None:
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="redwall-bench-history-"))
    geometry = load_geometry(SAMPLE_GEOMETRY)
    registry = GridRegistry.build(geometry)
    try:
        with EmbeddedPostgres(workdir) as postgres:
            await migrate(postgres.url)
            conn = await asyncpg.connect(postgres.url)
            await seed_places(conn, geometry)
            await conn.execute("SET maintenance_work_mem = '512MB'")
            started = time.perf_counter()
            first = await load(conn, args, registry, rng)
            fixes = await conn.fetchval("SELECT count(*) FROM positions")
            size = await conn.fetchval(
                "SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) FROM pg_partition_tree('positions')"
            )
            print(
                f"history: {fixes:,} fixes, {args.workers} workers, {args.days} days, {size}, "
                f"written in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            fences = await targets(conn, rng, args.queries)
            summary = await patrol_day_time(postgres.url, conn, args, first)
            await conn.close()
            await measure(postgres.url, fences[:6], first, args.days, rng)  # warm the cache and the statements
            timings = await measure(postgres.url, fences, first, args.days, rng)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for kind, runs in timings.items():
        ms = [t * 1000 for t, _, _ in runs]
        print(
            f"{kind}: {len(ms)} queries, p50 {sorted(ms)[len(ms) // 2]:.0f} ms, "
            f"p95 {p95(ms):.0f} ms, max {max(ms):.0f} ms, devices found {sum(n for *_, n in runs) / len(runs):.1f} "
            f"on average over windows of {sum(h for _, h, _ in runs) / len(runs):.0f} h on average"
        )
    print(summary)
    every = [t * 1000 for runs in timings.values() for t, _, _ in runs]
    print(f"who-was-here p95 {p95(every):.0f} ms over {fixes} fixes")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--fix-seconds", type=int, default=5)
    parser.add_argument("--queries", type=int, default=60, help="of each kind: courtyard, grid, polygon")
    parser.add_argument("--seed", type=int, default=18)
    asyncio.run(main(parser.parse_args()))
