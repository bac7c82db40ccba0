"""The district's weekly 专报 composed from its streets' stored figures of the week (figures.py's shape):
totals, one comparison row per street, the best and the worst street per measure, and one heat map of every
street's cells. Pure: the streets' figures in, a JSON-able dict out, which district_page.py draws.

The district's line is the sum of the streets' rows, count by count (one code path: the two cannot disagree);
a share is recomputed from the counts of its own line, never averaged. A figure a street's stored report does
not hold (made before it was counted) leaves the district's total unknown (None) rather than short. The 12345
rates are the street's own and are not summed: their numerators are not stored.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from consumers.report.cells import HEAT_RESOLUTION
from consumers.report.figures import week_bounds

# (measure, whether higher is better): the comparisons whose best and worst street a reader looks for.
RANKED = (
    ("settled_local_share", True),
    ("closed_in_time_share", True),
    ("overdue_rate", False),
    ("response", True),
    ("resolution", True),
    ("satisfaction", True),
)
RATES = ("response", "resolution", "satisfaction")  # 12345's three, as the city ranks a street
# What a street's row counts and the district's line sums: the street report's totals, its principle's
# counts, the incidents escalated to the street (summed over why) and the 12345 orders.
WEEK_COUNTS = ("reports", "previous_week_reports", "mean_8_weeks_reports", "incidents_opened")
PRINCIPLE_COUNTS = ("incidents", "settled_local", "overdue", "ceiling_exceptions", "closed", "closed_in_time")
COUNTS = (*WEEK_COUNTS, *PRINCIPLE_COUNTS, "escalated_to_street", "hotline_orders")


def reported_district(geometry) -> tuple[str, str] | None:
    """The district (id, Chinese name) that has a report of its own: a map of several streets has one; a
    one-street deployment never, whether or not its file names the district around it."""
    district = geometry.district
    return (district.id, district.name) if district is not None and len(geometry.streets) > 1 else None


def district_figures(
    week: str,
    district: tuple[str, str],
    streets: list[tuple[str, str]],
    figures: dict[str, dict],
    *,
    tz: str,
    made_at: datetime,
    queue: dict | None = None,
) -> dict:
    """The district `district` (id, Chinese name) of `streets` (id, name, in the map's order) in `week`, from
    `figures` by street id (every street's; KeyError naming the one missing); `queue` the district's own
    (sinks/weekly_queries.py UNLOCATED_QUEUE: received, placed, waiting), beside the totals, never in them."""
    start, end = week_bounds(week, tz)
    rows = [street_row(ident, name, figures[ident]) for ident, name in streets]
    return {
        "week": week,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "made_at": made_at.isoformat(),
        "district": {"id": district[0], "name": district[1]},
        "totals": totals(rows),
        "queue": queue,
        "streets": rows,
        "extremes": extremes(rows),
        "heat": heat([figures[ident] for ident, _ in streets]),
        "sources": [{"street": ident, "made_at": figures[ident].get("made_at")} for ident, _ in streets],
    }


def street_row(ident: str, name: str, f: dict) -> dict:
    """One street's line of the comparison table: its counts, and its shares from them as the total's are."""
    rates = (f.get("hotline") or {}).get("street") or {}
    counts = row_counts(f)
    return {"street": ident, "name": name, **counts, **shares(counts), **{rate: rates.get(rate) for rate in RATES}}


def row_counts(f: dict) -> dict:
    """The COUNTS of one street's stored figures; one its report does not hold is None."""
    principle = f["principle"]
    escalated = principle.get("escalated_to_street")
    return {
        **{key: f["totals"].get(key) for key in WEEK_COUNTS},
        **{key: principle.get(key) for key in PRINCIPLE_COUNTS},
        "escalated_to_street": None if escalated is None else sum(escalated.values()),
        "hotline_orders": (f.get("hotline") or {}).get("orders"),
    }


def totals(rows: list[dict]) -> dict:
    """The district's line: each count the sum of the streets' rows, its shares from those sums."""
    counts = {key: _sum(r[key] for r in rows) for key in COUNTS}
    return {**counts, **shares(counts)}


def shares(counts: dict) -> dict:
    """A row's or the district's shares, from its own counts: never an average of shares."""
    return {
        "settled_local_share": _share(counts["settled_local"], counts["incidents"]),
        "overdue_rate": _share(counts["overdue"], counts["incidents"]),
        "closed_in_time_share": _share(counts["closed_in_time"], counts["closed"]),
    }


def extremes(rows: list[dict]) -> dict:
    """{measure: {best, worst, best_value, worst_value}} for each RANKED measure at least two streets hold and
    on which they differ; a tie at the top names the first street of the map."""
    found = {}
    for measure, higher in RANKED:
        held = [r for r in rows if r[measure] is not None]
        if len(held) < 2 or len({r[measure] for r in held}) < 2:
            continue
        ordered = sorted(held, key=lambda r: -r[measure] if higher else r[measure])
        best, worst = ordered[0], ordered[-1]
        found[measure] = {
            "best": best["street"],
            "worst": worst["street"],
            "best_value": best[measure],
            "worst_value": worst[measure],
        }
    return found


def heat(each: list[dict]) -> dict:
    """Every street's heat cells together, most reports first (streets meet at their borders, where a cell
    holds reports of both)."""
    cells = Counter()
    for f in each:
        for cell in f["heat"]["cells"]:
            cells[cell["cell"]] += cell["n"]
    resolution = next((f["heat"]["resolution"] for f in each), HEAT_RESOLUTION)
    ranked = sorted(cells.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"resolution": resolution, "cells": [{"cell": cell, "n": n} for cell, n in ranked]}


def _sum(values) -> float | None:
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def _share(part: float | None, whole: float | None) -> float | None:
    return part / whole if part is not None and whole else None
