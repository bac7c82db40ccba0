"""What partitioning the position history costs and saves, on an embedded PostgreSQL:

    python -m benchmarks.retention [--fixes-per-day 200000] [--days 3]

1. the sink's write rate (the same PostgresSink.write_positions) into the daily partitions and into
   the plain table of migration 0005;
2. removing one expired day: DROP of its partition against DELETE of its rows from the plain table,
   and the table's size after each (a DELETE leaves the space to VACUUM);
3. migration 0006 moving the plain table's rows into partitions.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from schemas.records import PositionBatch
from sinks.migrate import MIGRATIONS_DIR, migrate
from sinks.partitions import PositionHistory, partition_name, utc_day
from sinks.postgres import PostgresSink
from streams.demo.embedded import EmbeddedPostgres

PER_RECORD = 50  # fixes per Kafka record
PER_WRITE = 100  # records per sink write: 5,000 fixes


def batches(days: int, per_day: int) -> list[dict]:
    """`per_day` fixes of 100 devices, spread over each of the last `days` UTC days before today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    step = 86400 * 100 / per_day  # seconds between two fixes of one device
    out = []
    for d in range(1, days + 1):
        start = today - timedelta(days=d)
        for device in range(100):
            times = [start + timedelta(seconds=i * step) for i in range(per_day // 100)]
            for first in range(0, len(times), PER_RECORD):
                pings = [
                    {"lat": 39.91, "lng": 116.37, "accuracy": 5.0, "grid": "c01-g01", "time": t.isoformat()}
                    for t in times[first : first + PER_RECORD]
                ]
                out.append(PositionBatch.validate({"device": f"bench-{device:03d}", "pings": pings}))
    return out


async def write_rate(dsn: str, records: list[dict], history: PositionHistory) -> float:
    sink = await PostgresSink.connect(dsn, history=history)
    try:
        started = time.perf_counter()
        for first in range(0, len(records), PER_WRITE):
            await sink.write_positions(records[first : first + PER_WRITE])
        return sum(len(r["pings"]) for r in records) / (time.perf_counter() - started)
    finally:
        await sink.close()


async def timed(conn: asyncpg.Connection, sql: str) -> tuple[float, str]:
    started = time.perf_counter()
    status = await conn.execute(sql)
    return time.perf_counter() - started, status


async def size(conn: asyncpg.Connection) -> str:
    return await conn.fetchval(
        "SELECT pg_size_pretty(coalesce(sum(pg_total_relation_size(relid)), "
        "pg_total_relation_size('positions'))) FROM pg_partition_tree('positions')"
    )


async def schema(admin: asyncpg.Connection, url: str, name: str, migrations: Path) -> str:
    await admin.execute(f"CREATE SCHEMA {name}")
    dsn = f"{url}{'&' if '?' in url else '?'}search_path={name}"
    await migrate(dsn, migrations)
    return dsn


def _schema(dsn: str) -> str:
    return dsn.rsplit("search_path=", 1)[1]


async def main(args) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="redwall-bench-retention-"))
    plain_dir = workdir / "migrations-0005"
    plain_dir.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:4]) < 6:
            shutil.copy(path, plain_dir)
    records = batches(args.days, args.fixes_per_day)
    fixes = sum(len(r["pings"]) for r in records)
    oldest = utc_day(datetime.fromisoformat(records[-1]["pings"][0]["time"]))
    print(f"{fixes:,} fixes over {args.days} days, writes of {PER_RECORD * PER_WRITE} fixes", flush=True)
    plain = parted = ""
    with EmbeddedPostgres(workdir) as postgres:
        admin = await asyncpg.connect(postgres.url)
        # Alternating, best of two each: on a shared machine one run alone says little.
        rates: dict[str, list[float]] = {"plain": [], "parted": []}
        for n, kind in enumerate(["plain", "parted", "plain", "parted"]):
            dsn = await schema(admin, postgres.url, f"{kind}{n}", plain_dir if kind == "plain" else MIGRATIONS_DIR)
            # The plain table has no partitions to make: tell the sink every day is already there.
            known = {oldest + timedelta(days=d) for d in range(args.days)} if kind == "plain" else set()
            rates[kind].append(await write_rate(dsn, records, PositionHistory(30, 3, known=known)))
            plain, parted = (dsn, parted) if kind == "plain" else (plain, dsn)
        best = {kind: max(r) for kind, r in rates.items()}
        print(
            f"sink write, best of 2: partitioned {best['parted']:,.0f} fixes/s, plain {best['plain']:,.0f} fixes/s "
            f"(ratio {best['parted'] / best['plain']:.2f}; runs { ({k: [round(x) for x in v] for k, v in rates.items()}) })",
            flush=True,
        )

        await admin.execute(f"SET search_path = {_schema(parted)}")
        before = await size(admin)
        drop, _ = await timed(admin, f"DROP TABLE {partition_name(oldest)}")
        print(f"drop one day: {drop * 1000:.1f} ms; size {before} -> {await size(admin)}", flush=True)
        await admin.execute(f"SET search_path = {_schema(plain)}")
        before = await size(admin)
        cutoff = datetime.combine(oldest + timedelta(days=1), datetime.min.time(), UTC)
        delete, status = await timed(admin, f"DELETE FROM positions WHERE event_time < '{cutoff.isoformat()}'")
        print(
            f"delete one day ({status}): {delete * 1000:.1f} ms; size {before} -> {await size(admin)} "
            f"(ratio delete/drop {delete / drop:,.0f})",
            flush=True,
        )

        rows = await admin.fetchval("SELECT count(*) FROM positions")
        started = time.perf_counter()
        await migrate(plain)
        print(
            f"migration 0006: {rows:,} rows into daily partitions in {time.perf_counter() - started:.1f} s", flush=True
        )
        await admin.close()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixes-per-day", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
