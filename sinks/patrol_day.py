"""The daily patrol summary (每日巡查小结) per rostered worker, read from PostgreSQL for one local day (or, for
the weekly report, any window): time on duty and on post, distance walked, grids and courtyards visited,
reports filed, tasks done, done without GPS arrival, and the median time to arrive.

- on duty: the roster's shifts (roster_shifts, in the roster's zone) clipped to the window; overlapping
  shifts count once.
- on post: each status change of patrol_events holds until the next; the status in force at the window's
  start is the last change before it.
- distance: the sum of the straight steps between a device's consecutive fixes, the equirectangular metre
  of config/crs.py, leaving out fixes flagged by the GPS checks (position_flags) and fixes less accurate
  than `max_accuracy_m`. A step between fixes more than GAP apart is not walked: a phone silent for
  a quarter of an hour says nothing of the way it went. Grids and courtyards come from the same fixes, so
  a flagged or vague fix proves no visit.
- tasks: those marked done in the window (tasks.done_at); unconfirmed ones were done with no arrival.
A window still running ends at `now`: nobody is on post in the future. One query per figure family, each
over all the workers at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from config.crs import METRES_PER_DEGREE
from schemas.display import zone
from sinks.postgres import connection

GAP = timedelta(minutes=10)

_WORKERS = """
SELECT w.device_id, w.name, w.role, w.grid_id, w.shifts
FROM roster_workers w LEFT JOIN grids g ON g.id = w.grid_id LEFT JOIN communities c ON c.id = g.community_id
WHERE ($1::text[] IS NULL OR w.device_id = ANY($1)) AND ($2::text IS NULL OR g.community_id = $2)
  AND ($3::text IS NULL OR c.street_id = $3)
ORDER BY w.device_id"""
_SHIFTS = "SELECT id, starts, ends, timezone FROM roster_shifts"
# As the weekly report's intervals (sinks/weekly_queries.py): a tie at one instant puts `unknown` first, so
# the status it resolves to holds.
_ON_POST = """
WITH changes AS (
    SELECT device_id, status, event_time, id FROM patrol_events
    WHERE device_id = ANY($1::text[]) AND event_time >= $2 AND event_time < $3
    UNION ALL
    SELECT b.device_id, b.status, $2, b.id FROM unnest($1::text[]) AS d(device_id) CROSS JOIN LATERAL (
        SELECT p.device_id, p.status, p.id FROM patrol_events p
        WHERE p.device_id = d.device_id AND p.event_time < $2 ORDER BY p.event_time DESC, p.id DESC LIMIT 1
    ) b
), intervals AS (
    SELECT device_id, status, event_time AS since,
           lead(event_time, 1, $3) OVER (PARTITION BY device_id ORDER BY event_time, status = 'unknown' DESC, id)
               AS until
    FROM changes
)
SELECT device_id, sum(extract(epoch FROM until - since))::float8 AS seconds
FROM intervals WHERE status = 'on_post' GROUP BY device_id"""
# Places are gathered where they change, not per fix: DISTINCT over a day's million fixes is a sort of them all
# (600 ms of 3.4 s measured on 200 workers' day); a run of fixes in one grid sends it once, and Python dedupes.
_FIXES = f"""
WITH fixes AS (
    SELECT p.device_id, p.event_time - lag(p.event_time) OVER w AS dt, p.lat, lag(p.lat) OVER w AS lat0,
           p.lng, lag(p.lng) OVER w AS lng0, p.grid_id, lag(p.grid_id) OVER w AS grid0,
           p.courtyard_id, lag(p.courtyard_id) OVER w AS courtyard0
    FROM positions p
    WHERE p.device_id = ANY($1::text[]) AND p.event_time >= $2 AND p.event_time < $3 AND p.accuracy <= $4
      AND NOT EXISTS (SELECT FROM position_flags f WHERE f.device_id = p.device_id AND f.event_time = p.event_time)
    WINDOW w AS (PARTITION BY p.device_id ORDER BY p.event_time)
)
SELECT device_id,
       coalesce(sum({METRES_PER_DEGREE} * sqrt((lat - lat0) ^ 2 + ((lng - lng0) * cos(radians((lat + lat0) / 2))) ^ 2))
                FILTER (WHERE dt <= $5), 0)::float8 AS distance_m,
       array_agg(grid_id) FILTER (WHERE grid_id IS DISTINCT FROM grid0 AND grid_id IS NOT NULL) AS grids,
       array_agg(courtyard_id) FILTER (WHERE courtyard_id IS DISTINCT FROM courtyard0 AND courtyard_id IS NOT NULL)
           AS courtyards
FROM fixes GROUP BY device_id"""
_REPORTS = """
SELECT device_id, count(*)::int AS reports FROM reports
WHERE device_id = ANY($1::text[]) AND event_time >= $2 AND event_time < $3 GROUP BY device_id"""
_TASKS = """
SELECT device AS device_id, count(*)::int AS done, count(*) FILTER (WHERE unconfirmed)::int AS unconfirmed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY arrive_seconds) AS arrive_median_s
FROM tasks WHERE device = ANY($1::text[]) AND status = 'done' AND done_at >= $2 AND done_at < $3
GROUP BY device"""
_ARRIVALS = """
SELECT arrive_seconds FROM tasks
WHERE device = ANY($1::text[]) AND status = 'done' AND done_at >= $2 AND done_at < $3 AND arrive_seconds IS NOT NULL"""
_PLACE_NAMES = (
    "SELECT id, name FROM grids WHERE id = ANY($1) UNION ALL SELECT id, name FROM courtyards WHERE id = ANY($1)"
)


@dataclass(frozen=True)
class WorkerDay:
    """One worker's figures over a window; `grids` and `courtyards` as (id, name) pairs, sorted by id."""

    device: str
    name: str
    role: str
    grid: str
    on_duty_s: float
    on_post_s: float
    distance_m: float
    grids: tuple[tuple[str, str | None], ...]
    courtyards: tuple[tuple[str, str | None], ...]
    reports: int
    tasks_done: int
    tasks_unconfirmed: int
    arrive_median_s: float | None

    def as_dict(self) -> dict:
        """The console's and the CLI's JSON: places as [{id, name}]."""
        places = {key: [{"id": i, "name": n} for i, n in getattr(self, key)] for key in ("grids", "courtyards")}
        return asdict(self) | places


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """Local midnight of `day` in `tz` to the next one, as UTC datetimes."""
    start = datetime.combine(day, time(), zone(tz))
    return start.astimezone(UTC), datetime.combine(day + timedelta(days=1), time(), zone(tz)).astimezone(UTC)


def duty_seconds(shifts: list[tuple[time, time]], tz: str, start: datetime, end: datetime) -> float:
    """Seconds of [start, end) covered by any of the daily `shifts` (start, end in `tz`; an end at or before
    the start runs past midnight), each time counted once."""
    local = zone(tz)
    spans = []
    day = start.astimezone(local).date() - timedelta(days=1)  # a night shift from the day before reaches in
    while datetime.combine(day, time(), local) < end:
        for begins, ends in shifts:
            after = day + timedelta(days=1) if ends <= begins else day
            spans.append((datetime.combine(day, begins, local), datetime.combine(after, ends, local)))
        day += timedelta(days=1)
    total, reached = 0.0, start
    for begins, ends in sorted(spans):
        begins, ends = max(begins, reached), min(ends, end)
        if ends > begins:
            total += (ends - begins).total_seconds()
            reached = ends
    return total


async def patrol_day(
    pool,
    day: date,
    tz: str,
    *,
    devices: list[str] | None = None,
    community: str | None = None,
    street: str | None = None,
    max_accuracy_m: float = 50.0,
    now: datetime | None = None,
) -> list[WorkerDay]:
    """Every rostered worker's summary of local `day` in `tz` (of `devices`, of the grids of `community` or of
    `street`)."""
    start, end = day_bounds(day, tz)
    return await patrol_summary(
        pool, start, end, devices=devices, community=community, street=street, max_accuracy_m=max_accuracy_m, now=now
    )


async def patrol_summary(
    db,
    start: datetime,
    end: datetime,
    *,
    devices: list[str] | None = None,
    community: str | None = None,
    street: str | None = None,
    max_accuracy_m: float = 50.0,
    now: datetime | None = None,
) -> list[WorkerDay]:
    """The summary of [start, end) for the rostered workers (of `devices`, of the grids of `community` or of
    `street` when given), by device id."""
    until = max(start, min(end, now or datetime.now(UTC)))
    async with connection(db) as conn:
        workers = await conn.fetch(_WORKERS, devices, community, street)
        ids = [w["device_id"] for w in workers]
        shifts = {s["id"]: s for s in await conn.fetch(_SHIFTS)}
        on_post = {r["device_id"]: r["seconds"] for r in await conn.fetch(_ON_POST, ids, start, until)}
        fixes = {r["device_id"]: r for r in await conn.fetch(_FIXES, ids, start, until, max_accuracy_m, GAP)}
        reports = {r["device_id"]: r["reports"] for r in await conn.fetch(_REPORTS, ids, start, until)}
        tasks = {r["device_id"]: r for r in await conn.fetch(_TASKS, ids, start, until)}
        visited = {p for r in fixes.values() for key in ("grids", "courtyards") for p in r[key] or ()}
        names = {r["id"]: r["name"] for r in await conn.fetch(_PLACE_NAMES, sorted(visited))}
    return [
        _worker(w, shifts, start, until, on_post, fixes.get(w["device_id"]), reports, tasks.get(w["device_id"]), names)
        for w in workers
    ]


def _worker(w, shifts, start, until, on_post, fix, reports, task, names) -> WorkerDay:
    mine = [shifts[s] for s in w["shifts"] if s in shifts]
    tz = mine[0]["timezone"] if mine else "Asia/Shanghai"

    def places(key: str) -> tuple[tuple[str, str | None], ...]:
        return tuple((p, names.get(p)) for p in sorted(set(fix[key] or ()))) if fix else ()

    device = w["device_id"]
    return WorkerDay(
        device=device,
        name=w["name"],
        role=w["role"],
        grid=w["grid_id"],
        on_duty_s=duty_seconds([(s["starts"], s["ends"]) for s in mine], tz, start, until),
        on_post_s=on_post.get(device, 0.0),
        distance_m=fix["distance_m"] if fix else 0.0,
        grids=places("grids"),
        courtyards=places("courtyards"),
        reports=reports.get(device, 0),
        tasks_done=task["done"] if task else 0,
        tasks_unconfirmed=task["unconfirmed"] if task else 0,
        arrive_median_s=task["arrive_median_s"] if task else None,
    )


async def arrive_seconds(db, devices: list[str], start: datetime, end: datetime) -> list[float]:
    """The times to arrive of the tasks `devices` did in [start, end): a median over several workers (the
    weekly report's street total) is not a median of theirs."""
    async with connection(db) as conn:
        return [r[0] for r in await conn.fetch(_ARRIVALS, devices, start, end)]
