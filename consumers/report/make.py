"""One weekly report made whole: figures from PostgreSQL (figures.py), the page, its PDF and the robot's
summary (render.py); or a district's, from its streets' stored figures (district.py, district_page.py). Used
by `redwall report weekly`, the Monday schedule and the benchmark."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from config.geometry import load_geometry
from config.hotline import load_hotline
from config.settings import Settings
from consumers.report.district import district_figures, reported_district
from consumers.report.district_page import district_summary, render_district_html
from consumers.report.figures import week_bounds, weekly_figures
from consumers.report.render import render_html, render_pdf, summary_markdown
from consumers.report.weeks import iso_week
from schemas.display import zone
from sinks.postgres import connection
from sinks.weekly_queries import UNLOCATED_QUEUE
from sinks.weekly_reports import week_figures


@dataclass(frozen=True)
class WeeklyReport:
    week: str
    html: str
    pdf: bytes
    summary: str
    figures: dict


def last_full_week(now: datetime, tz: str) -> str:
    """The ISO week ("2026-W48") that ended most recently in the street's zone: on a Monday, last week."""
    return iso_week((now.astimezone(zone(tz)) - timedelta(weeks=1)).date())


async def make_weekly(db, settings: Settings, week: str, street: str | None = None) -> WeeklyReport:
    """The report of `week` for a street of settings.geometry_path (`street`: which, in a district), from the
    database `db` (DSN or pool)."""
    geometry = load_geometry(settings.geometry_path)
    geometry = geometry.of_street(street) if street else geometry
    figures = await weekly_figures(
        db, week, tz=settings.timezone, hotline=load_hotline(settings.hotline_path), geometry=geometry
    )
    html = render_html(figures, geometry, tz=settings.timezone)
    # WeasyPrint is seconds of CPU: off the event loop, so a sink making the report keeps consuming.
    pdf = await asyncio.to_thread(render_pdf, html)
    summary = summary_markdown(figures)
    return WeeklyReport(week, html, pdf, summary, figures)


async def make_district(db, settings: Settings, week: str, *, made_at: datetime | None = None) -> WeeklyReport:
    """The report of `week` of the district of settings.geometry_path from its streets' stored figures; a street
    whose report is not made (a district's report made by hand before the Monday job) is counted now.
    ValueError for a map of one street."""
    # Its areas are checked where the map is loaded for locating (the worker, `redwall migrate`); checking
    # a district's again here takes seconds for nothing the report draws.
    geometry = load_geometry(settings.geometry_path, check_areas=False)
    district = reported_district(geometry)
    if district is None:
        raise ValueError(f"{settings.geometry_path} holds one street: a district report needs a map of several")
    stored = await week_figures(db, list(geometry.streets), week)
    hotline = load_hotline(settings.hotline_path)
    for street in geometry.streets:
        if street not in stored:
            stored[street] = await weekly_figures(
                db, week, tz=settings.timezone, hotline=hotline, geometry=geometry.of_street(street)
            )
    streets = [(s.id, s.name) for s in geometry.streets.values()]
    queue = await district_queue(db, district[0], week, settings.timezone)
    figures = district_figures(
        week, district, streets, stored, tz=settings.timezone, made_at=made_at or datetime.now(UTC), queue=queue
    )
    html = render_district_html(figures, geometry, tz=settings.timezone)
    pdf = await asyncio.to_thread(render_pdf, html)
    return WeeklyReport(week, html, pdf, district_summary(figures), figures)


async def district_queue(db, district: str, week: str, tz: str) -> dict:
    """The district's own queue of `week`: the reports outside every grid it received, placed and still holds."""
    async with connection(db) as conn:
        return dict(await conn.fetchrow(UNLOCATED_QUEUE, *week_bounds(week, tz), district))
