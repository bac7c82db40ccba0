"""The report's heat map and hot spots from the rows of sinks/weekly_queries.py HEAT (reports per cell of
the pipeline's resolution, grid and category): added up to a coarser H3 parent, whose cells a reader
sees as blocks of a street rather than doorways. Pure."""

from __future__ import annotations

from collections import Counter, defaultdict

import h3

HEAT_RESOLUTION = 10  # cells of about 66 m a side: a block, over a street of a few km²
TOP_CATEGORIES = 4
HOT_SPOTS = 10


def heat_figures(rows, resolution: int = HEAT_RESOLUTION) -> tuple[dict, list[dict]]:
    """({resolution, cells, by_category of the top categories}, the hot spots), most reports first."""
    cells, by_category, places = Counter(), defaultdict(Counter), defaultdict(Counter)
    for r in rows:
        cell = _parent(r["cell"], resolution)
        cells[cell] += r["n"]
        by_category[r["category"]][cell] += r["n"]
        places[cell][(r["grid"], r["community"])] += r["n"]
    totals = Counter({category: sum(counts.values()) for category, counts in by_category.items()})
    top = sorted(totals, key=lambda c: (-totals[c], c))[:TOP_CATEGORIES]
    heat = {
        "resolution": resolution,
        "cells": _ranked(cells),
        "by_category": {category: _ranked(by_category[category]) for category in top},
    }
    return heat, [_spot(hot, places[hot["cell"]]) for hot in heat["cells"][:HOT_SPOTS]]


def _parent(cell: str, resolution: int) -> str:
    return h3.cell_to_parent(cell, resolution) if h3.get_resolution(cell) > resolution else cell


def _ranked(counts: Counter) -> list[dict]:
    return [{"cell": cell, "n": n} for cell, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _spot(hot: dict, places: Counter) -> dict:
    """A hot cell placed in the grid (and community) most of its reports came from."""
    (grid, community), _ = min(places.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return {"cell": hot["cell"], "grid": grid, "community": community, "n": hot["n"]}
