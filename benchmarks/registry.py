"""The grid registry at district and city size: `python -m benchmarks.registry [--streets 15,343]`.

For each count of streets it makes the sample (config/sample/district.py: the 西城区 sample of 15 streets,
or a synthetic city of numbered streets) and prints: its size and how long it takes to make and to load
(the district with the full area checks; the city without them, whose H3 fills at the check resolution
would hold ~100 million cells), the registry's cells, build time and memory (the bytes tracemalloc sees
retained by a second build, so the timed one runs untraced), lookups/s over random points inside the area
on one core, and an exactness check against the shapely oracle (benchmarks/oracle.py) over random points
and points on and within a metre of street and community borders. The city leaves its courtyards out:
~148,000 of them would make a ~70 MB file and several minutes of build for the same figures per grid.
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

import shapely
from shapely.geometry import shape

from benchmarks.oracle import Oracle, edge_points
from config.geometry import load_geometry
from config.sample.district import STREETS, build, district_path
from config.sample.lattice import render
from schemas import json
from streams.geofence.registry import GridRegistry

LOOKUPS = 200_000  # random points timed through locate
PASSES = 3  # the best pass is the one least slowed by other work on a shared machine
RANDOM_CHECKED = 20_000  # of them, also checked against the oracle
BORDERS = 12  # streets, and as many communities, whose every border point is checked


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.registry", description=__doc__.split("\n")[0])
    parser.add_argument("--streets", default="15,343", help="comma-separated counts of streets (default 15,343)")
    args = parser.parse_args(argv)
    for streets in (int(n) for n in args.streets.split(",")):
        with tempfile.TemporaryDirectory() as scratch:
            measure(streets, Path(scratch))


def measure(streets: int, scratch: Path) -> None:
    district = streets <= len(STREETS)
    started = time.perf_counter()
    data = render(_without_courtyards(build(streets)) if not district else build(streets))
    made = time.perf_counter() - started
    path = district_path(streets) if district else scratch / "city.geojson"
    if not district:
        path.write_bytes(data)
    started = time.perf_counter()
    geometry = load_geometry(path, check_areas=district)
    loaded = time.perf_counter() - started
    what = "district" if district else "city"
    print(
        f"{what} of {streets} streets: {len(geometry.communities):,} communities, {len(geometry.grids):,} grids, "
        f"{len(geometry.courtyards):,} courtyards; {len(data) / 2**20:.1f} MiB made in {made:.1f} s, "
        f"loaded in {loaded:.1f} s ({'with' if district else 'without'} the area checks)"
    )
    registry, seconds, size = _build(geometry)
    stats = registry.stats()
    print(
        f"  registry: built in {seconds:.1f} s; {stats['cells']:,} grid cells ({stats['border_cells']:,} at an edge), "
        f"{stats['courtyard_cells']:,} courtyard cells ({stats['courtyard_border_cells']:,} at an edge); "
        f"indexes {size / 2**20:.1f} MiB ({size / (stats['cells'] + stats['courtyard_cells']):.0f} B a cell, tracemalloc)"
    )
    document = json.loads(data)
    lats, lngs = _inside(document, LOOKUPS, random.Random(streets))
    rate = max(_lookups(registry, lats, lngs) for _ in range(PASSES))
    print(f"  lookups: {rate:,.0f}/s over {LOOKUPS:,} random points, one core (best of {PASSES} passes)")
    _exactness(registry, document, lats[:RANDOM_CHECKED], lngs[:RANDOM_CHECKED], random.Random(streets + 1))


def _lookups(registry: GridRegistry, lats: list[float], lngs: list[float]) -> float:
    started = time.perf_counter()
    for lat, lng in zip(lats, lngs):
        registry.locate(lat, lng)
    return len(lats) / (time.perf_counter() - started)


def _build(geometry) -> tuple[GridRegistry, float, int]:
    """The registry, its build time untraced, and the bytes a traced second build leaves allocated."""
    started = time.perf_counter()
    registry = GridRegistry.build(geometry)
    seconds = time.perf_counter() - started
    del registry
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    registry = GridRegistry.build(geometry)
    gc.collect()
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return registry, seconds, size


def _without_courtyards(document: dict) -> dict:
    return document | {"features": [f for f in document["features"] if f["properties"]["kind"] != "courtyard"]}


def _inside(document: dict, count: int, rng: random.Random) -> tuple[list[float], list[float]]:
    """`count` points drawn evenly over the district's outline."""
    outline = shape(document["features"][0]["geometry"])
    west, south, east, north = outline.bounds
    lats, lngs = [], []
    while len(lats) < count:
        xs = [rng.uniform(west, east) for _ in range(count)]
        ys = [rng.uniform(south, north) for _ in range(count)]
        keep = shapely.contains_xy(outline, xs, ys)
        lngs += [x for x, k in zip(xs, keep) if k]
        lats += [y for y, k in zip(ys, keep) if k]
    return lats[:count], lngs[:count]


def _exactness(registry: GridRegistry, document: dict, lats: list, lngs: list, rng: random.Random) -> None:
    """Random points, and points on and beside the borders of a few streets and communities, each
    answered by the registry as the oracle says."""
    features = document["features"]
    borders = []
    for kind in ("street", "community"):
        areas = [shape(f["geometry"]) for f in features if f["properties"]["kind"] == kind]
        borders += rng.sample(areas, min(BORDERS, len(areas)))
    edge_lats, edge_lngs = edge_points(borders, rng)
    started = time.perf_counter()
    problems = Oracle(document).problems(registry, lats + edge_lats, lngs + edge_lngs)
    print(
        f"  exact: {len(problems)} of {len(lats) + len(edge_lats):,} points disagree with the oracle "
        f"({len(lats):,} random, {len(edge_lats):,} on and within a metre of the borders of {len(borders)} streets "
        f"and communities; checked in {time.perf_counter() - started:.0f} s)"
    )
    for problem in problems[:10]:
        print(f"    {problem}")


if __name__ == "__main__":
    main()
