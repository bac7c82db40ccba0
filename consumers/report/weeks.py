"""ISO weeks as the reports name them ("2026-W49"): a day's week, and a week's Monday. Every report module
names and reads weeks through these two, so the format is written once."""

from __future__ import annotations

from datetime import date


def iso_week(day: date) -> str:
    """The ISO week ("2026-W49") that `day` falls in."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(week: str) -> date:
    """The Monday of ISO week `week`; ValueError naming the expected form for anything else."""
    try:
        year, number = week.split("-W")
        return date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise ValueError(f"week {week!r} is not an ISO week YYYY-Www, e.g. 2026-W49") from None
