"""One weekly report made whole: figures from PostgreSQL (figures.py), the page, its PDF and the robot's
summary (render.py). Used by `redwall report weekly`, the Monday schedule and the benchmark."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from config.geometry import load_geometry
from config.hotline import load_hotline
from config.settings import Settings
from consumers.report.figures import weekly_figures
from consumers.report.render import render_html, render_pdf, summary_markdown
from schemas.display import zone


@dataclass(frozen=True)
class WeeklyReport:
    week: str
    html: str
    pdf: bytes
    summary: str
    figures: dict


def last_full_week(now: datetime, tz: str) -> str:
    """The ISO week ("2026-W48") that ended most recently in the street's zone: on a Monday, last week."""
    year, week, _ = (now.astimezone(zone(tz)) - timedelta(weeks=1)).isocalendar()
    return f"{year}-W{week:02d}"


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
