"""`redwall report weekly [--week 2026-W49] [--street ID] [--out DIR] [--sample]`: the weekly 专报 of one ISO
week of one street (a district names it) as HTML and PDF (consumers/report/), read from PostgreSQL; with the
district's id as `--street`, the district's own (全区), from its streets' stored reports of the week (a street
not made yet is counted now). `--sample` makes it from a generated week in an embedded PostgreSQL of its own,
in a temporary directory, with nothing else set up. Prints the two paths.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from schemas.display import local_minute


def add_commands(sub) -> None:
    report = sub.add_parser("report", help="the weekly 专报: classified analysis, heat maps, cases (HTML + PDF)")
    kinds = report.add_subparsers(required=True, metavar="KIND")
    weekly = kinds.add_parser("weekly", help="one ISO week, Monday to Sunday in the street's time zone")
    weekly.add_argument("--week", help="YYYY-Www, e.g. 2026-W49 (default: the last full week)")
    weekly.add_argument(
        "--street",
        help="the street's id, in a district of several streets; the district's id for the district's own "
        "report (全区), from its streets' stored reports of the week",
    )
    weekly.add_argument("--out", type=Path, default=Path("."), help="directory for <week>.html and <week>.pdf")
    weekly.add_argument(
        "--sample", action="store_true", help="a generated sample week in a temporary embedded PostgreSQL"
    )
    weekly.set_defaults(run=_weekly, needs=lambda args: () if args.sample else ("postgres",))


def _weekly(settings, args) -> int:
    from consumers.report.make import last_full_week  # WeasyPrint and its pango: only when asked

    week = args.week or last_full_week(datetime.now(UTC), settings.timezone)
    try:
        made = _sample(settings, week) if args.sample else asyncio.run(_made(settings, week, args.street))
    except ValueError as error:  # a week that is not YYYY-Www; a street the map does not hold, or none named
        print(f"redwall: report: {error}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    html, pdf = args.out / f"{week}.html", args.out / f"{week}.pdf"
    html.write_text(made.html, encoding="utf-8")
    pdf.write_bytes(made.pdf)
    whose = made.figures.get("street") or made.figures["district"]
    print(f"# {whose['name']} {week} · {local_minute(made.figures['made_at'], settings.timezone)}")
    print(html)
    print(pdf)
    return 0


async def _made(settings, week: str, street: str | None):
    """The street's report, or the district's when `street` is the district's id."""
    from config.geometry import load_geometry
    from consumers.report.district import reported_district
    from consumers.report.make import make_district, make_weekly

    district = reported_district(load_geometry(settings.geometry_path, check_areas=False))
    if street is not None and district is not None and street == district[0]:
        return await make_district(settings.database_dsn, settings, week)
    return await make_weekly(settings.database_dsn, settings, week, street)


def _sample(settings, week: str):
    from config.settings import SAMPLE_GEOMETRY
    from consumers.report.make import make_weekly
    from consumers.report.sample import write_sample_week
    from sinks.migrate import migrate
    from streams.demo.embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="redwall-report-") as scratch, EmbeddedPostgres(Path(scratch)) as pg:
        # The sample week is the sample street's, whatever map the settings name.
        sample = dataclasses.replace(settings, geometry_path=SAMPLE_GEOMETRY)

        async def made():
            await migrate(pg.url)
            await write_sample_week(pg.url, week, settings=sample)
            return await make_weekly(pg.url, sample, week)

        return asyncio.run(made())
