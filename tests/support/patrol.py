"""The sample street's grids, points inside and far outside one, and a patrol monitor fed ping batches: for the patrol tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache

from shapely.geometry import shape

from config.geometry import load_geometry
from config.roster import build_roster
from config.settings import SAMPLE_GEOMETRY, Settings
from schemas import json
from streams.geofence.registry import GridRegistry
from streams.patrol.monitor import PatrolMonitor
from tests.support.clock import ManualClock

GRID = "c05-g03"


@lru_cache(maxsize=1)
def registry() -> GridRegistry:
    return GridRegistry.build(load_geometry(SAMPLE_GEOMETRY))


@cache
def polygon(grid: str):
    features = json.loads(SAMPLE_GEOMETRY.read_bytes())["features"]
    return shape(next(f for f in features if f["properties"].get("id") == grid)["geometry"])


def inside() -> tuple[float, float]:
    p = polygon(GRID).representative_point()
    return p.y, p.x


def far_outside() -> tuple[float, float]:
    p = polygon("c09-g02").representative_point()
    return p.y, p.x


T0 = datetime(2027, 3, 5, 1, 0, 0, 123457, tzinfo=UTC)  # 09:00 in Beijing; odd microseconds on purpose


def monitor(devices=("dev-1", "dev-2")) -> PatrolMonitor:
    clock = ManualClock(T0)
    m = PatrolMonitor(Settings.from_env(), registry(), clock, changelog="changelog", partition_of=lambda d: 7)
    workers = [{"device": d, "name": d, "role": "volunteer", "grid": GRID, "shifts": ["day"]} for d in devices]
    m.roster = build_roster("Asia/Shanghai", [{"id": "day", "start": "08:00", "end": "18:00"}], workers, "test")
    return m


def batch(device: str, *seconds: float, where: tuple[float, float] | None = None) -> bytes:
    lat, lng = where or inside()
    grid = registry().locate(lat, lng).grid
    pings = [
        {"lat": lat, "lng": lng, "accuracy": 5.0, "time": (T0 + timedelta(seconds=s)).isoformat(), "grid": grid}
        for s in seconds
    ]
    return json.dumps({"device": device, "pings": pings})
