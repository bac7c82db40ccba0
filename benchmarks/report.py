"""How long the weekly 专报 takes to make, on an embedded PostgreSQL:

    python -m benchmarks.report [--street-reports 500] [--street-workers 80]
                                [--district-reports 50000] [--district-workers 2000] [--week 2026-W49]

A busy street's week and a district's are each written by the sample generator (consumers/report/sample.py,
through the sinks' own writers, with the 8 lighter weeks before) into a freshly migrated database, then
made by `make_weekly` (figures, heat maps, HTML, PDF) as the Monday job makes it. The time of writing the
sample is printed apart; the last line is `report: street N s, district M s`. Figures are printed, never
asserted (the issue's targets: under 10 s and under 60 s).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import asyncpg

from config.geometry import load_geometry
from config.settings import Settings
from sinks.migrate import migrate
from sinks.postgres import seed_places
from streams.demo.embedded import EmbeddedPostgres


async def one_week(workdir: Path, name: str, week: str, reports: int, workers: int) -> float:
    """Seconds `make_weekly` takes over a generated week of `reports` and `workers`, in a database of its own."""
    from consumers.report.make import make_weekly  # brings WeasyPrint: only once a database is wanted
    from consumers.report.sample import write_sample_week

    with EmbeddedPostgres(workdir / name, database=name) as postgres:
        settings = Settings.from_env(database_url=postgres.url, report_at="off")
        await migrate(postgres.url)
        pool = await asyncpg.create_pool(postgres.url, min_size=1, max_size=4)
        try:
            await seed_places(pool, load_geometry(settings.geometry_path))
            started = time.perf_counter()
            await write_sample_week(pool, week, reports=reports, workers=workers)
            written = time.perf_counter() - started
            started = time.perf_counter()
            report = await make_weekly(pool, settings, week)
            made = time.perf_counter() - started
        finally:
            await pool.close()
    print(
        f"{name}: {reports:,} reports, {workers:,} workers; sample written in {written:.1f} s; report made in "
        f"{made:.1f} s (html {len(report.html) / 1024:,.0f} KiB, pdf {len(report.pdf) / 1024:,.0f} KiB)",
        flush=True,
    )
    return made


async def main(args) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="redwall-bench-report-"))
    try:
        street = await one_week(workdir, "street", args.week, args.street_reports, args.street_workers)
        district = await one_week(workdir, "district", args.week, args.district_reports, args.district_workers)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"report: street {street:.1f} s, district {district:.1f} s", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--week", default="2026-W49")
    parser.add_argument("--street-reports", type=int, default=500)
    parser.add_argument("--street-workers", type=int, default=80)
    parser.add_argument("--district-reports", type=int, default=50_000)
    parser.add_argument("--district-workers", type=int, default=2_000)
    asyncio.run(main(parser.parse_args()))
