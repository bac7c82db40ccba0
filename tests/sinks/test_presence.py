"""Who was here (sinks/presence.py): visits from fixes (a gap longer than the silence ends one), the refusals of
a drawn polygon, a time and a window, and the answers for a grid, a courtyard and a drawn polygon against the
hand-computed ones of tests/support/presence.py, on fixes written through the real sink into PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg
import pytest

from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY
from schemas.fields import FieldError
from sinks.presence import Fence, check_window, drawn, named, parse_time, visits, who_was_here
from tests.support.factories import oracle_place
from tests.support.presence import (
    COURTYARD,
    COURTYARD_ANSWER,
    END,
    GRID,
    GRID_ANSWER,
    NAME_A,
    OUT,
    POLYGON,
    POLYGON_ANSWER,
    T0,
    P,
    Q,
    R,
    device,
    offsets,
    presence_database,
)

RUN = uuid.uuid4().hex[:8]
SILENCE = timedelta(minutes=2)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_gap_of_the_silence_continues_a_visit_and_a_longer_one_ends_it():
    fixes = [("a", at(0)), ("a", at(120)), ("a", at(241)), ("b", at(5))]
    found = visits(fixes, SILENCE)
    assert [(v.entry, v.exit, v.fixes, v.seconds) for v in found["a"]] == [
        (at(0), at(120), 2, 120.0),
        (at(241), at(241), 1, 0.0),
    ]
    assert [(v.entry, v.seconds) for v in found["b"]] == [(at(5), 0.0)]


def test_the_points_of_the_history_are_where_it_says():
    assert [oracle_place(*point)[1] for point in (P, R, Q, OUT)] == [GRID, GRID, GRID, "c01-g03"]
    triangle = drawn(POLYGON).zone
    assert triangle.contains(*P) and not triangle.contains(*R)


@pytest.mark.parametrize(
    "raw, field",
    [
        (None, "polygon"),
        ({"type": "Point", "coordinates": [116.36, 39.9]}, "polygon"),
        ({"type": "Polygon", "coordinates": []}, "polygon.coordinates"),
        (
            {"type": "Polygon", "coordinates": [[[116.357, 39.896], [116.358, 39.896], [116.357, 39.897]]]},
            "polygon.coordinates",
        ),
        ({"type": "Polygon", "coordinates": [[[116.3, 39.8], [116.5, 39.8], [116.3, 39.9], [116.3, 39.8]]]}, "polygon"),
    ],
)
def test_a_drawn_polygon_is_refused_naming_the_field(raw, field):
    with pytest.raises(FieldError) as refused:
        drawn(raw)
    assert refused.value.field == field


def test_a_feature_holding_a_polygon_is_taken():
    assert drawn({"type": "Feature", "properties": {}, "geometry": POLYGON}).kind == "polygon"


def test_times_without_an_offset_are_the_streets_and_windows_are_bounded():
    assert parse_time("2024-02-29 10:00", "from", "Asia/Shanghai") == T0
    assert parse_time("2024-02-29T02:00:00Z", "from", "Asia/Shanghai") == T0
    for text in ("", "yesterday", None):
        with pytest.raises(FieldError) as refused:
            parse_time(text, "from", "Asia/Shanghai")
        assert refused.value.field == "from"
    check_window(T0, T0 + timedelta(days=31))
    for end in (T0, T0 + timedelta(days=31, minutes=1)):
        with pytest.raises(FieldError) as refused:
            check_window(T0, end)
        assert refused.value.field == "to"


def test_a_place_is_one_courtyard_or_grid_of_the_geometry():
    geometry = load_geometry(SAMPLE_GEOMETRY, check_areas=False)
    courtyard = named(geometry, COURTYARD, None)
    assert (courtyard.kind, courtyard.id, courtyard.grid) == ("courtyard", COURTYARD, GRID)
    assert courtyard.name == geometry.courtyards[COURTYARD].name and courtyard.name.endswith("1号院")
    assert named(geometry, None, GRID).grid == GRID
    for wanted, grid, field in (
        (None, None, "place"),
        (COURTYARD, GRID, "place"),
        ("c09-g01-y99", None, "courtyard"),
        (None, "c99-g01", "grid"),
    ):
        with pytest.raises(FieldError) as refused:
            named(geometry, wanted, grid)
        assert refused.value.field == field


@pytest.fixture(scope="module")
async def history(database_url):
    async with presence_database(database_url, RUN) as url:
        yield url


async def ask(url: str, fence: Fence, **options) -> list[dict]:
    return await who_was_here(url, fence, T0, END, silence=SILENCE, max_accuracy_m=50.0, **options)


async def test_who_was_in_a_grid(history):
    found = await ask(history, Fence("grid", GRID))
    assert offsets(found, RUN) == GRID_ANSWER
    assert list(offsets(found, RUN)) == list(GRID_ANSWER)  # the first to enter first
    a = next(row for row in found if row["device"] == device(RUN, "A"))
    assert (a["name"], a["role"], a["seconds"]) == (*NAME_A, 210.0)


async def test_who_was_in_a_courtyard(history):
    found = await ask(history, Fence("courtyard", COURTYARD))
    assert offsets(found, RUN) == COURTYARD_ANSWER
    assert list(offsets(found, RUN)) == list(COURTYARD_ANSWER)


async def test_who_was_in_a_drawn_polygon(history):
    found = await ask(history, drawn(POLYGON))
    assert offsets(found, RUN) == POLYGON_ANSWER
    assert list(offsets(found, RUN)) == list(POLYGON_ANSWER)
    assert offsets(await ask(history, drawn(POLYGON), community="c01"), RUN) == POLYGON_ANSWER
    assert await ask(history, drawn(POLYGON), community="c02") == []
    assert offsets(await ask(history, drawn(POLYGON), street="xichangan"), RUN) == POLYGON_ANSWER
    assert await ask(history, drawn(POLYGON), street="xinjiekou") == []  # another street's dispatcher: none


# The indexes of `positions` led by a column (or, for None, the cell index of 0017), as each day's partition names them.
_INDEXES = """
SELECT c.relname FROM pg_index x JOIN pg_class p ON p.oid = x.indexrelid
JOIN pg_inherits i ON i.inhparent = x.indexrelid JOIN pg_class c ON c.oid = i.inhrelid
WHERE x.indrelid = 'positions'::regclass
  AND CASE WHEN $1::text IS NULL THEN p.relname = 'positions_cell_time'
           ELSE (SELECT attname FROM pg_attribute WHERE attrelid = x.indrelid AND attnum = x.indkey[0]) = $1 END
"""


async def test_each_place_is_read_through_its_index(history):
    wheres = {
        "grid_id": "grid_id = 'c01-g01'",
        "courtyard_id": "courtyard_id = 'c01-g01-y01'",
        None: "position_cell(lat, lng) = ANY(position_cells(39.8962, 116.357, 39.8972, 116.3582))",
    }
    conn = await asyncpg.connect(history)
    try:
        await conn.execute("SET enable_seqscan = off")  # a few rows: without it any plan is as good
        for column, where in wheres.items():
            sql = f"EXPLAIN SELECT device_id FROM positions WHERE {where} AND event_time >= $1 AND event_time < $2"
            plan = "\n".join(r[0] for r in await conn.fetch(sql, T0, END))
            indexes = [r[0] for r in await conn.fetch(_INDEXES, column)]
            assert indexes and any(name in plan for name in indexes), (column, plan)
    finally:
        await conn.close()
