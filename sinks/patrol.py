"""Patrol data in Postgres: the status sink, the roster and major events (load and re-read), the state
a restarted worker starts from, and the latest positions of on-duty devices for the live map."""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType

import asyncpg

from config.geometry import load_geometry
from config.major_events import MajorEvents, Period, load_major_events
from config.roster import Roster, build_roster, load_roster
from schemas import json
from sinks.migrate import migrate
from sinks.postgres import transaction
from sinks.sql import as_columns, row_count, unnest_insert

ON_DUTY_STATUSES = ("unknown", "on_post", "off_post", "offline")

_INSERT_EVENTS = unnest_insert(
    "patrol_events",
    [
        ("id", "text"),
        ("device_id", "text"),
        ("grid_id", "text"),
        ("status", "text"),
        ("previous", "text"),
        ("reason", "text"),
        ("event_time", "timestamptz"),
        ("current_grid", "text"),
        ("fix_time", "timestamptz"),
        ("lat", "float8"),
        ("lng", "float8"),
        ("accuracy", "float4"),
    ],
    "(id)",
)
_UPSERT_STATUS = """
INSERT INTO patrol_status (device_id, grid_id, status, since, reason, current_grid, fix_time, lat, lng, accuracy)
SELECT DISTINCT ON (device_id) device_id, grid_id, status, event_time, reason, current_grid, fix_time, lat, lng, accuracy
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::timestamptz[],
            $8::float8[], $9::float8[], $10::float4[]) WITH ORDINALITY
     AS t(device_id, grid_id, status, event_time, reason, current_grid, fix_time, lat, lng, accuracy, seq)
ORDER BY device_id, event_time DESC, seq DESC
ON CONFLICT (device_id) DO UPDATE SET
    grid_id = excluded.grid_id, status = excluded.status, since = excluded.since, reason = excluded.reason,
    current_grid = excluded.current_grid, fix_time = excluded.fix_time, lat = excluded.lat, lng = excluded.lng,
    accuracy = excluded.accuracy, updated_at = now()
WHERE excluded.since >= patrol_status.since
"""
_INSERT_FLAGS = unnest_insert(
    "position_flags",
    [("device_id", "text"), ("event_time", "timestamptz"), ("reason", "text")],
    "(device_id, event_time)",
)


class PatrolSink:
    """Writes redwall.patrol.v1 batches; every write is safe to repeat with the same batch."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def write(self, records: list[dict]) -> dict[str, int]:
        events = [_event_row(r) for r in records if r["type"] == "status"]
        flags = [
            (r["device"], datetime.fromisoformat(f["time"]), f["reason"])
            for r in records
            if r["type"] == "gps_flags"
            for f in r["flags"]
        ]
        async with transaction(self.pool) as conn:
            inserted = await conn.execute(_INSERT_EVENTS, *as_columns(events, 12))
            # Events of one batch may repeat a device: the newest wins, the later in the topic on a tie
            # (shift_started and first_fix_inside share a time); an older replay never overwrites.
            await conn.execute(
                _UPSERT_STATUS, *as_columns([(e[1], e[2], e[3], e[6], e[5], *e[7:]) for e in events], 10)
            )
            flagged = await conn.execute(_INSERT_FLAGS, *as_columns(flags, 3))
        return {"patrol_events": row_count(inserted), "position_flags": row_count(flagged)}


def _event_row(r: dict) -> tuple:
    fix = r.get("fix") or {}
    fix_time = datetime.fromisoformat(fix["time"]) if fix else None
    return (
        r["id"],
        r["device"],
        r["grid"],
        r["status"],
        r["previous"],
        r["reason"],
        datetime.fromisoformat(r["event_time"]),
        r.get("current_grid"),
        fix_time,
        fix.get("lat"),
        fix.get("lng"),
        fix.get("accuracy"),
    )


async def latest_positions(
    conn: asyncpg.Connection | asyncpg.Pool, *, community: str | None = None, grid: str | None = None
) -> list[dict]:
    """Every on-duty device's last good position and status, for the live map.

    Rows: device, name, role, team, grid (assigned), status, since, current_grid, fix_time, lat, lng,
    accuracy (position fields None before a device's first good fix). `community`/`grid` filter by
    the assigned grid (a grid id starts with its community's id, as in the sample geometry).
    """
    rows = await conn.fetch(
        """
        SELECT s.device_id AS device, w.name, w.role, w.team, s.grid_id AS grid, s.status, s.since,
               s.current_grid, s.fix_time, s.lat, s.lng, s.accuracy
        FROM patrol_status s LEFT JOIN roster_workers w USING (device_id)
        LEFT JOIN grids g ON g.id = s.grid_id
        WHERE s.status = ANY($1::text[]) AND ($2::text IS NULL OR g.community_id = $2) AND ($3::text IS NULL OR s.grid_id = $3)
        ORDER BY s.device_id""",
        list(ON_DUTY_STATUSES),
        community,
        grid,
    )
    return [dict(r) for r in rows]


async def device_states(
    conn: asyncpg.Connection | asyncpg.Pool, devices: list[str], max_accuracy_m: float = 50.0
) -> list[dict]:
    """The durable state a restarted worker starts from: the status, and the newest fix known, from
    `latest_positions` when it is newer and accurate enough (status rows carry the fix of their change
    only), so a device on post for hours is not taken for silent."""
    rows = await conn.fetch(
        """
        SELECT w.device_id AS device, s.status, s.since,
               CASE WHEN newer THEN p.grid_id ELSE s.current_grid END AS current_grid,
               CASE WHEN newer THEN p.event_time ELSE s.fix_time END AS fix_time,
               CASE WHEN newer THEN p.lat ELSE s.lat END AS lat, CASE WHEN newer THEN p.lng ELSE s.lng END AS lng,
               CASE WHEN newer THEN p.accuracy ELSE s.accuracy END AS accuracy
        FROM unnest($1::text[]) AS w(device_id) JOIN patrol_status s USING (device_id)
        LEFT JOIN latest_positions p USING (device_id)
        CROSS JOIN LATERAL (SELECT p.event_time IS NOT NULL AND p.accuracy <= $2
                                   AND p.event_time > coalesce(s.fix_time, '-infinity')) AS n(newer)""",
        devices,
        max_accuracy_m,
    )
    return [dict(r) for r in rows]


async def store_roster(conn: asyncpg.Connection, roster: Roster, events: MajorEvents) -> dict[str, int]:
    """Replace the roster and the major-event periods in one transaction."""
    async with conn.transaction():
        await conn.execute("DELETE FROM roster_workers; DELETE FROM roster_shifts; DELETE FROM major_event_periods")
        await conn.executemany(
            "INSERT INTO roster_shifts VALUES ($1, $2, $3, $4, $5)",
            [(s.id, s.name, s.start, s.end, roster.timezone) for s in roster.shifts.values()],
        )
        await conn.executemany(
            "INSERT INTO roster_workers (device_id, name, role, grid_id, team, shifts) VALUES ($1, $2, $3, $4, $5, $6)",
            [(w.device, w.name, w.role, w.grid, w.team, list(w.shifts)) for w in roster.workers.values()],
        )
        await conn.executemany(
            "INSERT INTO major_event_periods VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                (
                    p.id,
                    p.name,
                    p.start,
                    p.end,
                    p.deadline_factor,
                    p.min_on_post,
                    json.dumps(dict(p.min_on_post_by_grid)).decode(),
                )
                for p in events.periods
            ],
        )
    return {"workers": len(roster.workers), "shifts": len(roster.shifts), "periods": len(events.periods)}


async def roster_fingerprint(conn: asyncpg.Connection | asyncpg.Pool) -> str:
    """A digest of the stored roster and periods: re-reading 100,000 workers is only worth it on a change."""
    return await conn.fetchval("""
        SELECT md5(concat((SELECT string_agg(w::text, ',' ORDER BY device_id) FROM roster_workers w),
                          (SELECT string_agg(s::text, ',' ORDER BY id) FROM roster_shifts s),
                          (SELECT string_agg(p::text, ',' ORDER BY id) FROM major_event_periods p)))""")


async def read_roster(conn: asyncpg.Connection | asyncpg.Pool, known_grids=None) -> tuple[Roster, MajorEvents]:
    """The roster and periods as stored: what the workers re-read to pick up changes without a restart."""
    shifts = await conn.fetch("SELECT id, name, starts, ends, timezone FROM roster_shifts ORDER BY id")
    workers = await conn.fetch(
        "SELECT device_id, name, role, grid_id, team, shifts FROM roster_workers ORDER BY device_id"
    )
    periods = await conn.fetch("SELECT * FROM major_event_periods ORDER BY starts, id")
    timezone = shifts[0]["timezone"] if shifts else "Asia/Shanghai"
    # Every row brings its own copy of a role, grid and shift id; with 100,000 workers one shared copy of
    # each saves ~20 MB a worker. A generator, so no list of 100,000 dicts is ever held at once.
    one = {}.setdefault
    roster = build_roster(
        timezone,
        [
            {"id": s["id"], "name": s["name"], "start": s["starts"].isoformat(), "end": s["ends"].isoformat()}
            for s in shifts
        ],
        (
            {
                k: v
                for k, v in (
                    ("device", w["device_id"]),
                    ("name", w["name"]),
                    ("role", one(w["role"], w["role"])),
                    ("grid", one(w["grid_id"], w["grid_id"])),
                    ("team", w["team"]),
                    ("shifts", [one(x, x) for x in w["shifts"]]),
                )
                if v is not None
            }
            for w in workers
        ),
        "postgres roster tables",
        known_grids,
    )
    return roster, MajorEvents(
        tuple(
            Period(
                p["id"],
                p["name"],
                p["starts"],
                p["ends"],
                p["deadline_factor"],
                p["min_on_post"],
                MappingProxyType(json.loads(p["min_on_post_by_grid"])),
            )
            for p in periods
        )
    )


async def load_roster_files(settings) -> dict[str, int]:
    """`redwall roster load`: validate the roster and periods against the geometry, migrate, store."""
    grids = set(load_geometry(settings.geometry_path).grids)
    roster = load_roster(settings.roster_path, grids, geometry=settings.geometry_path)
    events = load_major_events(settings.major_events_path, grids)
    await migrate(settings.database_dsn)
    conn = await asyncpg.connect(settings.database_dsn)
    try:
        return await store_roster(conn, roster, events)
    finally:
        await conn.close()
