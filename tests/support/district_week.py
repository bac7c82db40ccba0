"""For the district report's tests: a street's stored figures with counts chosen by hand (as much of
consumers/report/figures.py's shape as the district reads), cells inside a street of the map, and a street
maker that returns such figures (rendering nothing), failing a street's first call when told to."""

from __future__ import annotations

from dataclasses import dataclass, field

import h3

from tests.support.weekly_schedule import Made


def street_figures(reports, incidents, settled, overdue, closed, in_time, escalated, cells, rates=None, orders=3):
    """A street's figures: `escalated` {reason: n}, `cells` [(H3 cell, n)], `rates` the street's 12345 rates."""
    return {
        "made_at": "2026-12-07T00:01:00+00:00",
        "totals": {"reports": reports, "previous_week_reports": reports - 1, "mean_8_weeks_reports": reports / 2,
                   "incidents_opened": incidents},
        "principle": {"incidents": incidents, "settled_local": settled, "settled_local_share": settled / incidents,
                      "overdue": overdue, "overdue_rate": overdue / incidents, "ceiling_exceptions": 1,
                      "closed": closed, "closed_in_time": in_time, "escalated_to_street": escalated},
        "heat": {"resolution": 10, "cells": [{"cell": c, "n": n} for c, n in cells]},
        "hotline": {"orders": orders, "street": rates},
    }  # fmt: skip


def cells_of(geometry, street: str, k: int) -> list[str]:
    """k resolution-10 cells at the centres of the first communities of `street`."""
    inside = [c for c in geometry.communities.values() if c.parent == street][:k]
    return [h3.latlng_to_cell(c.centre[1], c.centre[0], 10) for c in inside]


def two_streets_figures(geometry) -> dict[str, dict]:
    """Figures of xichangan and xinjiekou (district_path(2)) whose sums a test checks: reports 40 + 60,
    incidents 10 + 20, closed 6 + 15 (in time 5 + 9), overdue 2 + 6, escalated to the street 2 + 5."""
    west, east = cells_of(geometry, "xichangan", 3), cells_of(geometry, "xinjiekou", 2)
    return {
        "xichangan": street_figures(
            40, 10, 8, 2, 6, 5, {"deadline": 1, "request": 1, "cluster": 0, "sensitive_zone": 0},
            [(west[0], 5), (west[1], 3), (west[2], 1)], rates={"response": 0.9, "resolution": 0.8, "satisfaction": 0.95},
        ),
        "xinjiekou": street_figures(
            60, 20, 12, 6, 15, 9, {"deadline": 3, "request": 0, "cluster": 1, "sensitive_zone": 1},
            [(west[0], 2), (east[0], 6), (east[1], 4)], orders=5,
        ),
    }  # fmt: skip


@dataclass
class FiguresMaker:
    """A street maker whose reports carry `figures[street]` (PostgreSQL and Kafka stay real); the streets in
    `fail_once` raise on their first call, as a renderer that fell over."""

    figures: dict[str, dict]
    fail_once: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    async def __call__(self, pool, settings, week: str, street: str | None = None) -> Made:
        self.calls.append(street)
        if street in self.fail_once:
            self.fail_once.discard(street)
            raise RuntimeError(f"the renderer fell over on {street}")
        return Made(week, f"<html><body>{street} {week}</body></html>", b"%PDF-1.7", "s", self.figures[street])
