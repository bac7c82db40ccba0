"""The Monday job of `redwall sink`: once REDWALL_REPORT_AT of this week has passed in the street's time
zone, last week's 专报 is made, stored and announced, once per week and street; in a district of several
streets, the district's own too (consumers/report/district.py), under the district's id, once every street's
report of the week is stored.

A week whose report failed on every look until the next week's moment is not lost: each look makes, oldest
first, the weeks before the due one that are missing since the street's last stored report, at most
REDWALL_REPORT_CATCH_UP_WEEKS back (`weeks_to_make`); a street with none stored makes the due week only.

Every `EVERY_SECONDS` it looks: the week due is claimed in `weekly_reports` (sinks/weekly_reports.py), so
of two sinks, or a sink and its restart, one makes it; a report made but not yet announced (a sink
stopped in between) is announced on the next look, under the same alert id.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta

import asyncpg
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter

from config.geometry import load_geometry
from config.settings import Settings, report_moment
from consumers.report.deliver import alert_id, publish, report_alert, report_link
from consumers.report.district import reported_district
from consumers.report.weeks import iso_week, week_monday
from schemas.display import zone
from sinks.postgres import SinkUnavailable
from sinks.weekly_reports import claim, last_made_before, made_count, mark_announced, store, unannounced
from streams.clock import Clock, SystemClock, stopped_within

log = logging.getLogger(__name__)

EVERY_SECONDS = 60.0
Maker = Callable[[asyncpg.Pool, Settings, str, str], Awaitable]  # make_weekly (consumers/report/make.py)
DistrictMaker = Callable[[asyncpg.Pool, Settings, str], Awaitable]  # make_district (consumers/report/make.py)
Publisher = Callable[[dict], Awaitable[None]]
_DOWN = (OSError, SinkUnavailable, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError)


def due_week(now: datetime, moment: tuple[int, time], tz: str) -> str | None:
    """The ISO week whose report is due at `now`: the one before the current local week, once this week's
    `moment` (weekday, local time) has passed; None before it."""
    local = now.astimezone(zone(tz))
    monday = local.date() - timedelta(days=local.weekday())
    weekday, at = moment
    if local < datetime.combine(monday + timedelta(days=weekday), at, tzinfo=local.tzinfo):
        return None
    return iso_week(monday - timedelta(days=7))


def weeks_to_make(due: str, last_made: str | None, catch_up: int) -> list[str]:
    """Oldest first, the weeks a look makes: those of the `catch_up` weeks before `due` that come after
    `last_made` (the street's last stored week before it), then `due`; only `due` when nothing is stored."""
    if last_made is None:
        return [due]  # a fresh deployment: the weeks before it ran are nobody's to announce
    monday = week_monday(due)
    before = [iso_week(monday - timedelta(weeks=n)) for n in range(catch_up, 0, -1)]
    return [week for week in before if week > last_made] + [due]


async def make_weekly_report(pool: asyncpg.Pool, settings: Settings, week: str, street: str):
    """The report maker of consumers/report/make.py, imported when first needed (it brings WeasyPrint)."""
    from consumers.report.make import make_weekly

    return await make_weekly(pool, settings, week, street)


async def make_district_report(pool: asyncpg.Pool, settings: Settings, week: str):
    """The district's report from its streets' stored figures (consumers/report/make.py), imported when needed."""
    from consumers.report.make import make_district

    return await make_district(pool, settings, week)


class WeeklySchedule:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        make: Maker,
        announce: Publisher,
        *,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
        every: float = EVERY_SECONDS,
        make_district: DistrictMaker = make_district_report,
    ):
        self.settings, self.pool, self.make, self.announce = settings, pool, make, announce
        self.make_district = make_district
        self.clock, self.every = clock or SystemClock(), every
        self.moment = report_moment(settings.report_at)  # None: "off"
        # Every street of the map has its own report, claimed, made and announced on its own.
        geometry = load_geometry(settings.geometry_path, check_areas=False)
        self.streets = [(s.id, s.name) for s in geometry.streets.values()]
        self.district = reported_district(geometry)  # None: one street, no district report
        self.maker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.outcomes = Counter(
            "redwall_weekly_reports",
            "weekly reports by outcome: made, announced, failed (tried again on a later look)",
            ["outcome"],
            registry=CollectorRegistry() if registry is None else registry,
        )
        for outcome in ("made", "announced", "failed"):
            self.outcomes.labels(outcome)

    @classmethod
    def from_settings(cls, settings: Settings, pool: asyncpg.Pool, registry: CollectorRegistry, kafka: dict):
        return cls(settings, pool, make_weekly_report, lambda alert: publish(settings, kafka, alert), registry=registry)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Look now, then every `every` seconds, until `stop`; nothing at all when REDWALL_REPORT_AT is off."""
        stop = stop or asyncio.Event()
        while self.moment is not None and not stop.is_set():
            await self.look()
            await stopped_within(stop, self.every)

    async def look(self) -> str | None:
        """Make the week due of every street (then of the district) if nobody has, and the missing weeks
        before it (`weeks_to_make`), and announce what is made; returns the latest week this call made for
        any of them."""
        made = None
        for street in [*self.streets, *([self.district] if self.district else [])]:
            try:
                made = await self._make_due(street[0]) or made
                await self._announce(street)
            except _DOWN as exc:
                self.outcomes.labels("failed").inc()
                log.warning("weekly report: PostgreSQL or Kafka unavailable, next look in %.0f s: %s", self.every, exc)
                return None
        return made

    async def _make_due(self, street: str) -> str | None:
        """Make the street's due week and the missing ones before it, oldest first; the latest made, if any."""
        now = self.clock.now()
        due = None if self.moment is None else due_week(now, self.moment, self.settings.timezone)
        if due is None:
            return None
        made = None
        last = await last_made_before(self.pool, street, due) if self.settings.report_catch_up_weeks else None
        for week in weeks_to_make(due, last, self.settings.report_catch_up_weeks):
            # A week that fails waits for a later look without holding back the weeks after it.
            made = await self._make_week(street, week, now) or made
        return made

    async def _make_week(self, street: str, week: str, now: datetime) -> str | None:
        """Claim, make and store one week of the street's if it is ready and nobody has; the week if made."""
        if not await self._ready(street, week):
            return None
        if not await claim(self.pool, street, week, self.maker, now):
            return None
        log.info("weekly report %s of %s: making it", week, street)
        try:
            report = await self._making(street, week)
        except _DOWN:
            raise
        except Exception:
            # A bug in the figures or the renderer: the claim lapses after its lease, when it is tried again.
            self.outcomes.labels("failed").inc()
            log.exception("weekly report %s: making it failed", week)
            return None
        if not await store(self.pool, street, week, self.maker, report, alert_id(street, week), now):
            log.warning("weekly report %s: another maker took the claim over meanwhile; this one is dropped", week)
            return None
        self.outcomes.labels("made").inc()
        return week

    def _is_district(self, street: str) -> bool:
        return self.district is not None and street == self.district[0]

    def _making(self, street: str, week: str) -> Awaitable:
        if self._is_district(street):
            return self.make_district(self.pool, self.settings, week)
        return self.make(self.pool, self.settings, week, street)

    async def _ready(self, street: str, week: str) -> bool:
        """A street's week is ready when due; the district's once every street's report of it is stored."""
        if not self._is_district(street):
            return True
        return await made_count(self.pool, [s for s, _ in self.streets], week) == len(self.streets)

    async def _announce(self, street: tuple[str, str]) -> None:
        level = "district" if self._is_district(street[0]) else "street"
        for found in await unannounced(self.pool, street[0]):
            link = report_link(self.settings, found.week, street[0] if len(self.streets) > 1 else None)
            alert = report_alert(street, found.week, found.summary, link, self.clock.now(), level=level)
            await self.announce(alert)
            await mark_announced(self.pool, street[0], found.week, self.clock.now())
            self.outcomes.labels("announced").inc()
            log.info("weekly report %s announced as %s", found.week, alert["id"])
