"""Who should go to a task: the roster's workers of a grid on duty now, with their patrol status and last fix,
nearest first. One answer for the console's form and the worker's 生脸 assignment.

Order: on post first, nearest first; then on duty but not on post (off post, or no status yet), nearest first,
a worker with no fix last. Workers off duty (by the roster's shifts) or offline are left out. A status row of
off_duty for a worker the roster has on duty means the patrol agent has not seen the shift start yet: it counts
as no status (unknown)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from config.crs import distance_m
from config.roster import Roster, build_roster
from sinks.postgres import connection

LEFT_OUT = ("offline",)
# The newest fix known: latest_positions follows every stored fix, a status row only the fix of its change.
_STATES = """
SELECT d.device_id, s.status,
       coalesce(p.lat, s.lat) AS lat, coalesce(p.lng, s.lng) AS lng, coalesce(p.event_time, s.fix_time) AS fix_time
FROM unnest($1::text[]) AS d(device_id)
LEFT JOIN patrol_status s USING (device_id) LEFT JOIN latest_positions p USING (device_id)"""


@dataclass(frozen=True)
class Candidate:
    device: str
    name: str
    role: str
    grid: str
    status: str  # on_post, off_post or unknown (schemas/display.py PATROL_STATUS)
    distance_m: float | None  # to the task's point; None without a fix
    fix_time: datetime | None


async def candidates(db, roster: Roster, grid: str, lat: float, lng: float, now: datetime) -> list[Candidate]:
    """The workers of `grid` on duty at `now` who are not offline, in the order above, with their distance in
    metres to (lat, lng)."""
    workers = [roster.workers[d] for d in roster.by_grid().get(grid, ()) if roster.on_duty(d, now)]
    if not workers:
        return []
    async with connection(db) as conn:
        rows = {r["device_id"]: r for r in await conn.fetch(_STATES, [w.device for w in workers])}
    found = []
    for w in workers:
        row = rows[w.device]
        status = row["status"] if row["status"] in ("on_post", "off_post", *LEFT_OUT) else "unknown"
        if status in LEFT_OUT:
            continue
        far = None if row["lat"] is None else distance_m(lat, lng, row["lat"], row["lng"])
        found.append(Candidate(w.device, w.name, w.role, w.grid, status, far, row["fix_time"]))
    return sorted(found, key=lambda c: (c.status != "on_post", c.distance_m is None, c.distance_m or 0.0, c.device))


async def grid_roster(db, grid: str) -> Roster:
    """The stored roster (`redwall roster load`) of one grid's workers, with every shift: what the console
    needs to ask `candidates` without reading the street's whole roster."""
    async with connection(db) as conn:
        shifts = await conn.fetch("SELECT id, name, starts, ends, timezone FROM roster_shifts ORDER BY id")
        workers = await conn.fetch(
            "SELECT device_id, name, role, grid_id, team, shifts FROM roster_workers WHERE grid_id = $1", grid
        )
    return build_roster(
        shifts[0]["timezone"] if shifts else "Asia/Shanghai",
        [
            {"id": s["id"], "name": s["name"], "start": s["starts"].isoformat(), "end": s["ends"].isoformat()}
            for s in shifts
        ],
        [
            {
                "device": w["device_id"],
                "name": w["name"],
                "role": w["role"],
                "grid": w["grid_id"],
                "shifts": w["shifts"],
            }
            for w in workers
        ],
        "postgres roster tables",
    )
