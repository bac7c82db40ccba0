"""A weekly report's figures with planted numbers, shaped exactly as consumers/report/figures.py's
`weekly_figures` returns them, over the sample geometry: what the render tests check the page against."""

from __future__ import annotations

from dataclasses import asdict

import h3

from config.geometry import Geometry
from sinks.hotline_rates import Rate

HEAT_RESOLUTION = 10


def _cells(geometry: Geometry, count: int) -> list[str]:
    """One cell at the first vertex of each of the first `count` grids: inside the street, distinct."""
    found = []
    for grid in list(geometry.grids.values())[:count]:
        ring = grid.polygons[0][0]
        lng = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
        lat = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
        found.append(h3.latlng_to_cell(lat, lng, HEAT_RESOLUTION))
    return found


def _rate(key: str, name: str, n: int) -> dict:
    return asdict(Rate(key, name, n, 30, 0.912, 0.874, 0.931, 0.88, 0.904, 0.625, 3, True))


def planted_figures(geometry: Geometry) -> dict:
    """Week 2026-W49 of the sample street: 437 reports (391 the week before), group renting up in c01."""
    cells = _cells(geometry, 12)
    grids = list(geometry.grids.values())
    return {
        "week": "2026-W49",
        "start": "2026-11-29T16:00:00+00:00",
        "end": "2026-12-06T16:00:00+00:00",
        "street": {"id": geometry.street.id, "name": geometry.street.name},
        "made_at": "2026-12-07T00:00:00+00:00",
        "totals": {
            "reports": 437,
            "incidents_opened": 298,
            "previous_week_reports": 391,
            "mean_8_weeks_reports": 402.5,
        },
        "by_category_community": [
            {
                "category": "group_renting",
                "community": "c01",
                "now": 17,
                "last_week": 4,
                "mean_8": 3.9,
                "z": 4.25,
                "flag": "up",
            },
            {
                "category": "sanitation",
                "community": "c02",
                "now": 23,
                "last_week": 21,
                "mean_8": 22.1,
                "z": 0.42,
                "flag": None,
            },
            {
                "category": "illegal_parking",
                "community": "c03",
                "now": 2,
                "last_week": 11,
                "mean_8": 9.6,
                "z": -3.8,
                "flag": "down",
            },
        ],
        "by_grid": [
            {
                "grid": grids[0].id,
                "community": "c01",
                "now": 29,
                "last_week": 12,
                "mean_8": 11.4,
                "z": 3.84,
                "flag": "up",
            },
            {"grid": grids[1].id, "community": "c01", "now": 8, "last_week": 7, "mean_8": 7.5, "z": 0.36, "flag": None},
        ],
        "principle": {
            "settled_local_share": 0.8591,
            "settled_local": 256,
            "incidents": 298,
            "escalated_to_street": {"deadline": 19, "request": 7, "cluster": 11, "sensitive_zone": 5},
            "ceiling_exceptions": 1,
            "overdue": 23,
            "overdue_rate": 0.0772,
            "median_ack_seconds": {"grid": 1260, "community": 2580, "street": 840},
            "median_resolve_seconds": {"grid": 15000, "community": 44100, "street": 97200},
        },
        "heat": {
            "resolution": HEAT_RESOLUTION,
            "cells": [
                {"cell": c, "n": n} for c, n in zip(cells, (41, 30, 22, 17, 12, 9, 7, 5, 3, 2, 1, 1), strict=True)
            ],
            "by_category": {
                "group_renting": [{"cell": cells[0], "n": 13}, {"cell": cells[1], "n": 4}],
                "sanitation": [{"cell": cells[2], "n": 9}, {"cell": cells[3], "n": 6}],
                "illegal_parking": [{"cell": cells[4], "n": 5}],
                "dispute": [{"cell": cells[5], "n": 3}],
            },
        },
        "hot_spots": [
            {"cell": cells[0], "grid": grids[0].id, "community": "c01", "n": 41},
            {"cell": cells[1], "grid": grids[1].id, "community": "c01", "n": 30},
        ],
        "repeats": [{"grid": grids[0].id, "cell": cells[0], "category": "group_renting", "n": 6}],
        "patrol": [
            {
                "grid": grids[0].id,
                "community": "c01",
                "on_post_share": 0.8734,
                "offline_minutes": 96,
                "coverage_gaps_major_events": 2,
                "advisories": 5,
                "advisories_followed": 3,
            }
        ],
        "hotline": {
            "orders": 64,
            "rates": [_rate("c01", geometry.communities["c01"].name, 37)],
            "street": _rate(geometry.street.id, geometry.street.name, 64),
            "grid_first": 0.625,
            "blind_spots": 3,
            "topics": [
                {
                    "grid": grids[0].id,
                    "community": "c01",
                    "category": "group_renting",
                    "count": 7,
                    "usual": 1.5,
                    "z": 2.84,
                }
            ],
        },
        "cases": [
            {
                "incident": "inc-c01-5f2a9c",
                "category": "group_renting",
                "community": "c01",
                "grid": grids[0].id,
                "level": "street",
                "status": "acknowledged",
                "opened_at": "2026-12-01T02:05:00+00:00",
                "why": "cluster",
                "timeline": [
                    {"when": "2026-12-01T02:05:00+00:00", "kind": "opened", "actor": "dev-0007", "reason": "report"},
                    {
                        "when": "2026-12-01T03:40:00+00:00",
                        "kind": "report_merged",
                        "actor": "dev-0011",
                        "reason": "cluster",
                    },
                    *(
                        {
                            "when": f"2026-12-01T03:{m}:00+00:00",
                            "kind": "report_merged",
                            "actor": a,
                            "reason": "cluster",
                        }
                        for m, a in (("46", "dev-0012"), ("51", "dev-0011"), ("58", "dev-0019"))
                    ),
                    {"when": "2026-12-01T04:12:00+00:00", "kind": "escalated", "actor": "engine", "reason": "cluster"},
                    {"when": "2026-12-01T05:30:00+00:00", "kind": "acknowledged", "actor": "street-desk", "reason": ""},
                ],
            }
        ],
        "queries": {
            "totals": "TOTALS",
            "by_category_community": "BY_CATEGORY_COMMUNITY",
            "by_grid": "BY_GRID",
            "principle": "PRINCIPLE",
            "heat": "HEAT_CELLS",
            "hot_spots": "HOT_SPOTS",
            "repeats": "REPEATS",
            "patrol": "PATROL",
            "hotline": "HOTLINE_ORDERS",
            "cases": "CASES",
        },
    }
