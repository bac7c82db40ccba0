"""Courtyards in PostgreSQL: the places table of courtyards seeded from the geometry, and the courtyard of
each report and fix written by the sinks (fixes through COPY), NULL for one in no courtyard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY
from schemas.records import LocatedReport, PositionBatch
from sinks.postgres import PostgresSink, connection, seed_places

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)  # in the past: it may be the latest fix
PLACE = {"street": "xichangan", "community": "c03", "grid": "c03-g04"}


@pytest.fixture
async def sink(database_url):
    sink = await PostgresSink.connect(database_url)
    yield sink
    await sink.close()


def ping(second: int, courtyard: str | None) -> dict:
    fix = {"lat": 39.9, "lng": 116.37, "accuracy": 5.0, "time": (T0 + timedelta(seconds=second)).isoformat()}
    return fix | PLACE | ({"courtyard": courtyard} if courtyard else {})


def report(device: str, n: int, courtyard: str | None) -> dict:
    value = {
        "id": f"{device}-r{n}",
        "device": device,
        "category": "new_resident",
        "severity": "low",
        "text": "生脸",
        "location": {"lat": 39.9, "lng": 116.37},
        "event_time": T0.isoformat(),
        "cell": "8c31aa4298d1bff",
        **PLACE,
        **({"courtyard": courtyard} if courtyard else {}),
    }
    return LocatedReport.validate(value)


async def test_fixes_keep_their_courtyard_in_the_history_and_the_latest_position(sink, pg):
    device = f"dev-{uuid.uuid4().hex[:8]}"
    batch = PositionBatch.validate({"device": device, "pings": [ping(0, "c03-g04-y08"), ping(5, None)]})
    assert await sink.write_positions([batch]) == {"positions": 2, "latest_positions": 1}
    rows = await pg.fetch("SELECT courtyard_id FROM positions WHERE device_id = $1 ORDER BY event_time", device)
    assert [r["courtyard_id"] for r in rows] == ["c03-g04-y08", None]
    assert await pg.fetchval("SELECT courtyard_id FROM latest_positions WHERE device_id = $1", device) is None
    later = PositionBatch.validate({"device": device, "pings": [ping(10, "c03-g04-y09")]})
    await sink.write_positions([later])
    assert await pg.fetchval("SELECT courtyard_id FROM latest_positions WHERE device_id = $1", device) == "c03-g04-y09"


async def test_reports_keep_their_courtyard(sink, pg):
    device = f"dev-{uuid.uuid4().hex[:8]}"
    assert await sink.write_reports([report(device, 1, "c03-g04-y08"), report(device, 2, None)]) == {"reports": 2}
    rows = await pg.fetch("SELECT id, courtyard_id FROM reports WHERE device_id = $1 ORDER BY id", device)
    assert [(r["id"], r["courtyard_id"]) for r in rows] == [(f"{device}-r1", "c03-g04-y08"), (f"{device}-r2", None)]


async def test_a_courtyards_fixes_over_time_are_read_by_an_index(pg):
    columns = await pg.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'positions' AND indexname = 'positions_courtyard_time'"
    )
    assert columns.endswith("(courtyard_id, event_time)")


async def test_the_courtyards_are_seeded_with_their_grid(scratch):
    geometry = load_geometry(SAMPLE_GEOMETRY)
    async with connection(scratch) as conn:
        assert await seed_places(conn, geometry) == 1 + 13 + 71 + 1440
        assert await seed_places(conn, geometry) == 1525  # an upsert: running it again changes nothing
        assert await conn.fetchval("SELECT count(*) FROM courtyards") == 1440
        row = await conn.fetchrow(
            "SELECT name, grid_id, geometry->>'type' AS kind, properties->>'kind' AS what FROM courtyards WHERE id = $1",
            "c01-g03-y07",
        )
        assert tuple(row) == ("新文化街社区第3网格7号院", "c01-g03", "Polygon", "courtyard")
