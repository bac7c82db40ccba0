"""Test data: records, and an independent oracle (shapely on the GeoJSON) for where points fall."""

from __future__ import annotations

import random
import uuid
from datetime import UTC
from functools import lru_cache

from shapely.geometry import Point, shape
from shapely.strtree import STRtree

from config.settings import SAMPLE_GEOMETRY
from schemas import json


@lru_cache(maxsize=1)
def _grids():
    features = json.loads(SAMPLE_GEOMETRY.read_bytes())["features"]
    grids = [f for f in features if f["properties"]["kind"] == "grid"]
    polygons = [shape(f["geometry"]) for f in grids]
    return grids, polygons, STRtree(polygons)


def oracle_place(lat: float, lng: float) -> tuple[str | None, str | None]:
    """(community, grid) of a point by shapely's point-in-polygon, or (None, None) outside."""
    grids, polygons, tree = _grids()
    point = Point(lng, lat)
    for i in tree.query(point):
        if polygons[i].contains(point):
            props = grids[i]["properties"]
            return props["community"], props["id"]
    return None, None


def random_point(rng: random.Random, *, inside: bool = True) -> tuple[float, float]:
    """A point in the street (or, with inside=False, anywhere around it)."""
    while True:
        lat, lng = rng.uniform(39.890, 39.930), rng.uniform(116.350, 116.405)
        if not inside or oracle_place(lat, lng)[1] is not None:
            return round(lat, 7), round(lng, 7)


def report(rng: random.Random, device: str, **changes) -> dict:
    lat, lng = random_point(rng)
    value = {
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "device": device,
        "category": rng.choice(["sanitation", "dispute", "illegal_parking", "safety_hazard"]),
        "severity": rng.choice(["low", "medium", "high"]),
        "text": "楼道堆物 / hallway clutter",
        "location": {"lat": lat, "lng": lng, "accuracy": 5.0},
        "event_time": "2026-11-28T09:30:00+08:00",
    }
    value.update(changes)
    return value


def ping_batch(rng: random.Random, device: str, n: int, start_second: int = 0) -> dict:
    pings = []
    for i in range(n):
        lat, lng = random_point(rng)
        second = start_second + i
        pings.append(
            {"lat": lat, "lng": lng, "accuracy": 5.0, "time": f"2026-11-28T01:{second // 60:02d}:{second % 60:02d}Z"}
        )
    return {"device": device, "pings": pings}


def alert(alert_id: str, *, event_time=None, **changes) -> dict:
    """A valid Alert (schemas.records.Alert); `event_time` defaults to now, so it pages someone."""
    from datetime import datetime

    from schemas.records import Alert

    when = (event_time or datetime.now(UTC)).isoformat()
    value = {
        "id": alert_id,
        "kind": "incident_opened",
        "status": "firing",
        "level": "community",
        "owner": "c01",
        "street": "xichangan",
        "community": "c01",
        "grid": "c01-g01",
        "incident": f"inc-{alert_id}",
        "category": "sanitation",
        "severity": "medium",
        "priority": "normal",
        "title": {"zh": "新事件：环境卫生", "en": "New incident: sanitation"},
        "body": {"zh": "c01-g01 楼道堆物", "en": "Hallway clutter in c01-g01"},
        "event_time": when,
        "created_at": when,
    }
    value.update(changes)
    return Alert.validate(value)
