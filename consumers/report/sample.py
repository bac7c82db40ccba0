"""A generated week of a street, written through the sinks' own writers into a migrated database, so its rows
are exactly what production stores: field reports and 12345 orders (placed by the worker's Placer), the
incidents the real escalation engine makes of them with dispatchers acting on them (late now and then),
patrol status changes and the 前响应 advisories claimed by the worker's own code (sample_patrol.py). The 8
weeks before are lighter: 80 % of the reports and orders, no incidents, no patrol. Deterministic under `seed`.

Planted, so a reader sees the change test work: group renting (群租) in the first community at about four
times its usual in the week, and eight hot spots (a few H3 cells each) that draw a third of the reports.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from config.calendar import load_calendar
from config.geometry import load_geometry
from config.hotline import load_hotline
from config.settings import Settings
from consumers.report.figures import week_bounds
from consumers.report.sample_incidents import run_engine
from consumers.report.sample_patrol import write_advisories, write_patrol, write_walks
from sinks.hotline import HotlineSink
from sinks.incidents import IncidentSink
from sinks.postgres import PostgresSink, connection, open_pool, seed_places
from streams.geofence.registry import GridRegistry
from streams.hotline.placement import Placer

WEEKS_BEFORE = 8
BEFORE_SHARE = 0.8  # each earlier week has this share of the week's reports
HOTLINE_SHARE = 0.12  # of the reports, 12345 orders (a busy street: ~60 a week)
HOT_SPOTS, HOT_SHARE = 8, 0.33
PLANTED, PLANTED_EXTRA = "group_renting", 0.03  # extra reports of it in the first community, share of the week
CATEGORIES = {  # category -> weight among field reports
    "sanitation": 30,
    "illegal_parking": 18,
    "facility_damage": 12,
    "public_sentiment": 10,
    "dispute": 7,
    "group_renting": 5,
    "new_resident": 5,
    "illegal_construction": 4,
    "safety_hazard": 4,
    "underground_space": 3,
    "other": 2,
}
SEVERITIES = {"low": 45, "medium": 40, "high": 12, "critical": 3}
CATALOGUE = {"0101": 5, "0103": 3, "0201": 1, "0202": 2, "04": 1, "05": 1}  # 12345 catalogue codes, by weight
WRITE_BATCH = 2000


@dataclass
class Street:
    """The street's places and the sample's random draws: every generator below reads from it."""

    registry: GridRegistry
    rng: random.Random

    def __post_init__(self):
        points = [p for polygon in self.registry.street.polygons for ring in polygon for p in ring]
        self.lats = (min(p[1] for p in points), max(p[1] for p in points))
        self.lngs = (min(p[0] for p in points), max(p[0] for p in points))
        self.spots = [self.point() for _ in range(HOT_SPOTS)]
        self.first = sorted(self.registry.communities)[0]

    def point(self, near: tuple[float, float] | None = None, community: str | None = None) -> tuple[float, float]:
        """A point inside a grid: uniform over the street (or one community), or within ~12 m of `near`."""
        rng = self.rng
        while True:
            if near:
                lat, lng = near[0] + rng.gauss(0, 0.0001), near[1] + rng.gauss(0, 0.00012)
            else:
                lat, lng = rng.uniform(*self.lats), rng.uniform(*self.lngs)
            place = self.registry.locate(lat, lng)
            if not place.outside and community in (None, place.community):
                return round(lat, 6), round(lng, 6)

    def when(self, start: datetime) -> datetime:
        """A time of the week from `start` (local Monday 00:00): every day alike, busiest 07:00-21:00."""
        hour = self.rng.triangular(6.5, 21.5, 13.0) if self.rng.random() < 0.95 else self.rng.uniform(0, 24)
        return start + timedelta(days=self.rng.randrange(7), hours=hour)

    def draw(self, weights: dict[str, int]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]


def field_report(street: Street, ident: str, start: datetime, category: str | None = None, community=None) -> dict:
    """A LocatedReport as the geofence agent emits it."""
    near = street.rng.choice(street.spots) if community is None and street.rng.random() < HOT_SHARE else None
    lat, lng = street.point(near, community)
    place = street.registry.locate(lat, lng)
    return {
        "id": ident,
        "device": f"dev-{street.rng.randrange(1, 81):04d}",
        "category": category or street.draw(CATEGORIES),
        "severity": street.draw(SEVERITIES),
        "text": "样例上报 / sample report",
        "location": {"lat": lat, "lng": lng, "accuracy": 6.0},
        "event_time": street.when(start).isoformat(),
        "street": place.street,
        "community": place.community,
        "grid": place.grid,
        "cell": street.registry.cell(lat, lng),
    }


def week_reports(street: Street, start: datetime, count: int, planted: bool) -> list[dict]:
    """`count` field reports of the week from `start`; when `planted`, some of them the planted change."""
    tag, extra = f"sample-{start:%Y%m%d}", round(count * PLANTED_EXTRA) if planted else 0
    made = [field_report(street, f"{tag}-{n:05d}", start) for n in range(count - extra)]
    return made + [field_report(street, f"{tag}-p{n:04d}", start, PLANTED, street.first) for n in range(extra)]


def hotline_orders(street: Street, placer: Placer, start: datetime, count: int) -> tuple[list[dict], list[dict]]:
    """`count` 12345 orders of the week, placed as the worker places them, with their events: contacted,
    closed and the call-back; and the LocatedReports they become."""
    records, reports, rng = [], [], street.rng
    for n in range(count):
        ident = f"S{start:%Y%m%d}{n:04d}"
        dispatched = street.when(start)
        lat, lng = street.point()
        order = {
            "type": "order",
            "id": ident,
            "received_at": (dispatched - timedelta(minutes=rng.randrange(5, 90))).isoformat(),
            "dispatched_at": dispatched.isoformat(),
            "channel": rng.choice(("phone", "phone", "phone", "web", "app")),
            "appeal_type": rng.choice(("complaint", "complaint", "help", "report", "consultation")),
            "catalogue": [{"code": street.draw(CATALOGUE), "name": "城市管理"}],
            "urgency": rng.choices(("ordinary", "utilities", "emergency", "complex"), weights=(80, 10, 5, 5))[0],
            "content": "样例工单：来电人反映问题 / sample order",
            "address": "西城区样例地址",
            "lead_unit": "街道",
            "contact_masked": "138****0000",
            "contact_hash": f"{rng.getrandbits(256):064x}",
        }
        if rng.random() < 0.8:
            order["location"] = {"lat": lat, "lng": lng, "accuracy": 20.0}
        located = placer.located_order(order, placer.place(order))
        records += [located, *_order_events(rng, ident, dispatched)]
        reports.append(placer.report(located))
    return records, reports


def _order_events(rng: random.Random, order: str, dispatched: datetime) -> list[dict]:
    contacted = dispatched + timedelta(minutes=rng.expovariate(1 / 50))
    closed = contacted + timedelta(hours=rng.expovariate(1 / 30))
    mood = rng.choices(("satisfied", "basically_satisfied", "not_satisfied"), weights=(70, 20, 10))[0]
    event = {"type": "event", "order": order, "actor": "街道"}
    return [
        {**event, "id": f"{order}-c", "kind": "contacted", "time": contacted.isoformat()},
        {**event, "id": f"{order}-x", "kind": "closed", "time": closed.isoformat(), "result": "已处理"},
        {
            **event,
            "id": f"{order}-b",
            "kind": "callback",
            "time": (closed + timedelta(hours=20)).isoformat(),
            "resolved": "no" if mood == "not_satisfied" else "yes",
            "satisfaction": mood,
        },
    ]


async def write_sample_week(
    db, week: str, *, reports: int = 500, workers: int = 80, seed: int = 16, settings: Settings | None = None
) -> dict[str, int]:
    """Write `week` and the 8 before it into the migrated, empty database `db` (a DSN or pool); returns
    the rows written, by table. `reports` is the week's total, 12345 orders' reports included."""
    settings = settings or Settings()
    street = Street(
        GridRegistry.build(load_geometry(settings.geometry_path), settings.h3_resolution), random.Random(seed)
    )
    config = load_hotline(settings.hotline_path)
    # A past week's orders: the cover of the days ahead of today is no concern of theirs (a limit that runs
    # into a year the calendar lacks is still refused, by the calendar).
    calendar = load_calendar(settings.calendar_path, settings.holidays_path, settings.timezone, cover_check=False)
    placer = Placer(street.registry, config, calendar)
    start, end = week_bounds(week, settings.timezone)
    field, hotline = [], []
    for back in range(WEEKS_BEFORE, -1, -1):
        monday = start - timedelta(weeks=back)
        total = reports if back == 0 else round(reports * BEFORE_SHARE)
        orders, order_reports = hotline_orders(street, placer, monday, round(total * HOTLINE_SHARE))
        made = week_reports(street, monday, total - len(order_reports), planted=back == 0) + order_reports
        field += made
        hotline += orders
    # The week's reports only: the report reads the incidents opened in it, and the engine is most of the time.
    events = run_engine(street.registry, made, settings, street.rng, until=end)
    async with connection(db) as conn:
        await seed_places(conn, street.registry.geometry)
    pool = db if not isinstance(db, str) else await open_pool(db)
    sink = PostgresSink(pool)
    try:
        written = {"reports": 0, "incident_events": 0, "hotline_orders": 0}
        for chunk in _chunks(field):
            written["reports"] += (await sink.write_reports(chunk))["reports"]
        for chunk in _chunks(events):
            written["incident_events"] += (await IncidentSink(sink.pool).write(chunk))["incident_events"]
        for chunk in _chunks(hotline):
            written["hotline_orders"] += (await HotlineSink(sink.pool, config, calendar).write(chunk))["hotline_orders"]
        written["patrol_events"] = await write_patrol(sink.pool, street.registry, start, workers, street.rng)
        written["positions"] = await write_walks(sink.pool, street.registry, start, workers, settings.timezone)
        written["advisories"] = await write_advisories(sink.pool, street.registry, settings, start, end)
    finally:
        if pool is not db:
            await pool.close()
    return written


def _chunks(rows: list) -> list[list]:
    return [rows[i : i + WRITE_BATCH] for i in range(0, len(rows), WRITE_BATCH)]
