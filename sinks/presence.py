"""Who was here: every device seen inside a courtyard, a grid or a drawn polygon between two times, as visits
(entry, exit, time inside) read from the position history.

A courtyard or grid is read through its id index with time; a drawn polygon through the coarse cell index of
migration 0017 (0.001 degree squares) with time, then the exact ring test of config/rules.py. A visit is a run
of a device's fixes inside, ended by a silence longer than `silence`: entry is its first fix, exit its last,
time inside exit - entry (a single fix, a device passing by, counts 0 s). A step outside shorter than the
silence does not split a visit, so a fix jittering across a border is not a new entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from config.rings import GeometryError, check_ring
from config.rules import Zone
from schemas.display import zone
from schemas.fields import FieldError
from sinks.postgres import connection

MAX_WINDOW = timedelta(days=31)
# A drawn polygon's bounding box at most this many degrees a side: 100 x 100 cells, about 11 km by 8.5 km.
MAX_BOX_DEGREES = 0.1

_BY_ID = {
    kind: f"""
SELECT device_id, event_time FROM positions
WHERE {column} = $1 AND event_time >= $2 AND event_time < $3 AND accuracy <= $4
ORDER BY device_id, event_time"""
    for kind, column in (("courtyard", "courtyard_id"), ("grid", "grid_id"))
}
# The cell test finds the rows through the index; the box test drops the cells' corners outside the box
# before they travel; the community (a community dispatcher's) keeps to its own fixes.
_IN_BOX = """
SELECT device_id, event_time, lat, lng FROM positions
WHERE position_cell(lat, lng) = ANY(position_cells($1, $2, $3, $4))
  AND lat BETWEEN $1 AND $3 AND lng BETWEEN $2 AND $4
  AND event_time >= $5 AND event_time < $6 AND accuracy <= $7 AND ($8::text IS NULL OR community_id = $8)
  AND ($9::text IS NULL OR street_id = $9)
ORDER BY device_id, event_time"""
_NAMES = "SELECT device_id, name, role FROM roster_workers WHERE device_id = ANY($1::text[])"


@dataclass(frozen=True)
class Fence:
    """Where to look: a courtyard or grid by its id (`grid`: the grid it lies in), or a drawn polygon (`zone`,
    rings of (lng, lat))."""

    kind: str
    id: str | None = None
    zone: Zone | None = None
    grid: str | None = None
    name: str | None = None

    @property
    def box(self) -> tuple[float, float, float, float]:
        """South, west, north, east of the polygon."""
        lngs = [x for ring in self.zone.rings for x, _ in ring]
        lats = [y for ring in self.zone.rings for _, y in ring]
        return min(lats), min(lngs), max(lats), max(lngs)


@dataclass(frozen=True)
class Visit:
    entry: datetime
    exit: datetime
    fixes: int

    @property
    def seconds(self) -> float:
        return (self.exit - self.entry).total_seconds()


def drawn(raw) -> Fence:
    """A GeoJSON Polygon (or a Feature holding one) in WGS 84 as a Fence; FieldError naming `polygon` if not."""
    if isinstance(raw, dict) and raw.get("type") == "Feature":
        raw = raw.get("geometry")
    if not isinstance(raw, dict) or raw.get("type") != "Polygon" or not isinstance(raw.get("coordinates"), list):
        raise FieldError("polygon", 'is not a GeoJSON Polygon: {"type": "Polygon", "coordinates": [[[lng, lat], ...]]}')
    if not raw["coordinates"]:
        raise FieldError("polygon.coordinates", "has no ring: give the outer ring, then any holes")
    try:
        rings = tuple(check_ring(Path("polygon"), f"ring {i}", r) for i, r in enumerate(raw["coordinates"]))
    except GeometryError as bad:
        raise FieldError("polygon.coordinates", str(bad).removeprefix("polygon: ")) from None
    fence = Fence("polygon", zone=Zone("drawn", "", rings))
    south, west, north, east = fence.box
    if max(north - south, east - west) > MAX_BOX_DEGREES:
        raise FieldError("polygon", f"spans more than {MAX_BOX_DEGREES} degree: draw a smaller area")
    return fence


def named(geometry, courtyard: str | None, grid: str | None) -> Fence:
    """One courtyard or grid of `geometry` (config/geometry.py) as a Fence; FieldError naming `place` for none
    or both, or naming the kind for an id the geometry does not hold."""
    if (courtyard is None) == (grid is None):
        raise FieldError("place", "give one place: a courtyard or a grid by its id (or a drawn polygon)")
    kind, wanted = ("courtyard", courtyard) if courtyard else ("grid", grid)
    area = (geometry.courtyards if courtyard else geometry.grids).get(wanted)
    if area is None:
        raise FieldError(kind, f"no {kind} {wanted!r:.80} in the street's geometry")
    return Fence(kind, area.id, grid=area.parent if courtyard else area.id, name=area.name)


def parse_time(text: str | None, field: str, tz: str) -> datetime:
    """RFC 3339 with an offset, or a time without one (`2026-12-06 14:00`) in the street's zone `tz`."""
    if not text:
        raise FieldError(field, "is missing: give a time, e.g. 2026-12-06 14:00 or 2026-12-06T14:00:00+08:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise FieldError(field, f"{text!r:.40} is not a time: write 2026-12-06 14:00 or RFC 3339") from None
    return when if when.tzinfo else when.replace(tzinfo=zone(tz))


def check_window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise FieldError("to", "is not after from: give a later end")
    if end - start > MAX_WINDOW:
        raise FieldError("to", f"is more than {MAX_WINDOW.days} days after from: ask for a shorter window")


def visits(fixes: Iterable[tuple[str, datetime]], silence: timedelta) -> dict[str, list[Visit]]:
    """Each device's visits from its fixes inside, given in (device, time) order."""
    found: dict[str, list[Visit]] = {}
    device = entry = last = None
    n = 0
    # One Visit per run, not per fix: a grid over a week is some 100,000 fixes, and this loop is most of
    # the answer's time in Python.
    for current, when in fixes:
        if current == device and when - last <= silence:
            last, n = when, n + 1
            continue
        if device is not None:
            found.setdefault(device, []).append(Visit(entry, last, n))
        device, entry, last, n = current, when, when, 1
    if device is not None:
        found.setdefault(device, []).append(Visit(entry, last, n))
    return found


def presence(found: dict[str, list[Visit]], names: Mapping[str, tuple[str, str]]) -> list[dict]:
    """One row per device, the first to enter first: its roster name and role, first entry, last exit, time
    inside over all its visits, and the visits."""
    rows = [
        {
            "device": device,
            "name": names.get(device, (None, None))[0],
            "role": names.get(device, (None, None))[1],
            "entry": mine[0].entry,
            "exit": mine[-1].exit,
            "seconds": sum(v.seconds for v in mine),
            "visits": [{"entry": v.entry, "exit": v.exit, "seconds": v.seconds, "fixes": v.fixes} for v in mine],
        }
        for device, mine in found.items()
    ]
    return sorted(rows, key=lambda r: (r["entry"], r["device"]))


async def who_was_here(
    db,
    fence: Fence,
    start: datetime,
    end: datetime,
    *,
    silence: timedelta,
    max_accuracy_m: float,
    community: str | None = None,
    street: str | None = None,
) -> list[dict]:
    """The devices inside `fence` from `start` to `end` (excluded), with their visits (see `presence`). Fixes
    less accurate than `max_accuracy_m` are left out; `community` and `street` keep a polygon's to theirs (a
    drawn area may reach past the corners that were checked, into a concave neighbour)."""
    check_window(start, end)
    async with connection(db) as conn:
        if fence.zone is None:
            rows = await conn.fetch(_BY_ID[fence.kind], fence.id, start, end, max_accuracy_m)  # (device, time)
        else:
            candidates = await conn.fetch(_IN_BOX, *fence.box, start, end, max_accuracy_m, community, street)
            rows = [(r[0], r[1]) for r in candidates if fence.zone.contains(r[2], r[3])]
        found = visits(rows, silence)
        named = await conn.fetch(_NAMES, list(found))
    return presence(found, {r["device_id"]: (r["name"], r["role"]) for r in named})
