"""The Monday job of `redwall sink` on the real PostgreSQL and broker: due once REDWALL_REPORT_AT has passed
in the street's zone and not before; two schedulers at once make a week once; a restart after making it
neither makes nor announces it again; a maker that died is replaced after its lease; a week whose report failed
until the next Monday is made then, before the new one (REDWALL_REPORT_CATCH_UP_WEEKS)."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from config.errors import ConfigError
from config.geometry import load_geometry
from config.sample.district import district_path
from config.settings import Settings
from consumers.report.schedule import due_week, weeks_to_make
from sinks.weekly_reports import LEASE
from tests.support.clock import ManualClock
from tests.support.weekly_schedule import FixedMaker, Made, alerts_on, scheduler

MONDAY_8 = (0, datetime.strptime("08:00", "%H:%M").time())


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    "now, week",
    [
        ("2026-12-07T07:59:59+08:00", None),  # Monday, a second before 08:00 in Beijing
        ("2026-12-07T08:00:00+08:00", "2026-W49"),
        ("2026-12-07T00:30:00+00:00", "2026-W49"),  # 08:30 in Beijing, though Monday 00:30 in UTC
        ("2026-12-06T23:59:00+08:00", "2026-W48"),  # Sunday night: the week before's, made last Monday
        ("2026-12-13T23:59:00+08:00", "2026-W49"),  # all week long the same week is due
        ("2027-01-04T09:00:00+08:00", "2026-W53"),  # 2026 has 53 ISO weeks
    ],
)
def test_the_week_due_is_last_week_once_monday_8_has_passed_in_beijing(now, week):
    assert due_week(utc(now), MONDAY_8, "Asia/Shanghai") == week


def test_report_at_is_a_weekday_and_a_time_or_off():
    assert Settings.from_env({"REDWALL_REPORT_AT": "Tue 17:30"}).report_at == "Tue 17:30"
    assert Settings.from_env({"REDWALL_REPORT_AT": "off"}).report_at == "off"
    for bad in ("Monday 08:00", "Mon 8:00", "Mon 24:00", "08:00"):
        with pytest.raises(ConfigError, match=r"REDWALL_REPORT_AT=.*is invalid: use a weekday and a local time"):
            Settings.from_env({"REDWALL_REPORT_AT": bad})
    with pytest.raises(ConfigError, match="REDWALL_CONSOLE_URL"):
        Settings.from_env({"REDWALL_CONSOLE_URL": "console.example.cn"})


@pytest.mark.parametrize(
    "due, last, catch_up, weeks",
    [
        ("2026-W49", "2026-W48", 4, ["2026-W49"]),  # nothing missed
        ("2026-W49", "2026-W47", 4, ["2026-W48", "2026-W49"]),
        ("2026-W49", "2025-W30", 4, ["2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"]),  # 4 at most
        ("2027-W01", "2026-W51", 4, ["2026-W52", "2026-W53", "2027-W01"]),  # 2026 has 53 ISO weeks
        ("2026-W49", None, 4, ["2026-W49"]),  # nothing stored yet: a fresh deployment
        ("2026-W49", "2026-W47", 0, ["2026-W49"]),  # 0: the due week only, as before the setting
    ],
)
def test_the_weeks_to_make_are_the_missing_ones_since_the_last_stored_oldest_first_then_the_due_one(
    due, last, catch_up, weeks
):
    assert weeks_to_make(due, last, catch_up) == weeks


def test_report_catch_up_weeks_is_4_by_default_and_0_to_52():
    assert Settings.from_env({}).report_catch_up_weeks == 4
    assert Settings.from_env({"REDWALL_REPORT_CATCH_UP_WEEKS": "0"}).report_catch_up_weeks == 0
    for bad in ("-1", "53"):
        with pytest.raises(ConfigError, match=r"REDWALL_REPORT_CATCH_UP_WEEKS=.*is invalid: use a number of weeks"):
            Settings.from_env({"REDWALL_REPORT_CATCH_UP_WEEKS": bad})


async def test_nothing_before_monday_8_then_made_stored_and_announced_once(own, pg):
    # Each test takes weeks of its own: the street and its rows are the session's.
    clock, maker = ManualClock(utc("2031-03-10T07:59:00+08:00")), FixedMaker()
    schedule = await scheduler(own, maker, clock)
    try:
        assert await schedule.look() is None and maker.calls == []
        clock.set(utc("2031-03-10T08:00:30+08:00"))
        assert await schedule.look() == "2031-W10"
        assert await schedule.look() is None  # a minute later: made already
    finally:
        await schedule.pool.close()
    row = await pg.fetchrow("SELECT * FROM weekly_reports WHERE week = '2031-W10'")
    assert maker.calls == ["2031-W10"]
    assert (row["html"], bytes(row["pdf"])) == (
        "<html><body><h1>专报 2031-W10</h1></body></html>",
        b"%PDF-1.7 2031-W10",
    )
    assert row["announced_at"] is not None and row["alert_id"] == f"report:weekly:{row['street_id']}:2031-W10"
    alerts = await alerts_on(own)  # at least once: a produce the broker was slow to confirm may come twice
    assert len({a["id"] for a in alerts}) == 1
    alert = alerts[0]
    assert (alert["id"], alert["kind"], alert["level"], alert["owner"]) == (
        row["alert_id"],
        "weekly_report",
        "street",
        row["street_id"],
    )
    assert alert["link"] == "/reports/2031-W10.html" and alert["title"]["zh"].startswith("每周专报：")


async def test_two_schedulers_at_once_make_and_announce_the_week_once(own, pg):
    clock, maker = ManualClock(utc("2032-03-08T09:00:00+08:00")), FixedMaker(seconds=0.5)
    first, second = await scheduler(own, maker, clock), await scheduler(own, maker, clock)
    try:
        made = await asyncio.gather(first.look(), second.look(), first.look())
    finally:
        await first.pool.close()
        await second.pool.close()
    assert sorted(made, key=str) == ["2032-W10", None, None] and maker.calls == ["2032-W10"]
    assert await pg.fetchval("SELECT count(*) FROM weekly_reports WHERE week = '2032-W10'") == 1
    assert [a["id"].rsplit(":", 1)[1] for a in await alerts_on(own)] == ["2032-W10"]


async def test_a_restart_after_making_neither_makes_nor_announces_it_again(own, pg):
    clock, maker = ManualClock(utc("2033-03-07T08:05:00+08:00")), FixedMaker()
    before = await scheduler(own, maker, clock)
    try:
        assert await before.look() == "2033-W09"
    finally:
        await before.pool.close()
    clock.advance(3600)
    after = await scheduler(own, maker, clock)  # a sink started again, with a new maker id
    try:
        assert await after.look() is None
    finally:
        await after.pool.close()
    assert maker.calls == ["2033-W09"]
    assert len(await alerts_on(own)) == 1


async def test_made_but_not_announced_is_announced_by_the_next_look_and_a_dead_makers_claim_lapses(own, pg):
    street = load_geometry(own.geometry_path, check_areas=False).street.id
    now, died = utc("2034-03-06T08:10:00+08:00"), utc("2034-02-27T08:00:00+08:00")
    # A sink stopped between storing W09 and announcing it; another died while making W08.
    await pg.execute(
        "INSERT INTO weekly_reports (street_id, week, claimed_by, claimed_at, made_at, html, pdf, summary, alert_id) "
        "VALUES ($1, '2034-W09', 'gone', $2, $2, '<html></html>', '\\x25', 's', $3), "
        "($1, '2034-W08', 'dead', $4, NULL, NULL, NULL, NULL, NULL)",
        street,
        now - timedelta(minutes=5),
        f"report:weekly:{street}:2034-W09",
        died,
    )
    maker = FixedMaker()
    schedule = await scheduler(own, maker, ManualClock(now))
    try:
        assert await schedule.look() is None  # W09 is due, and made: only announced
        [announced] = await alerts_on(own)
        # Announced now, five minutes after it was made: its time is the announcement's, so it still pages.
        assert (announced["id"], announced["event_time"]) == (f"report:weekly:{street}:2034-W09", now.isoformat())
        schedule.clock.set(died + LEASE - timedelta(minutes=1))  # when W08 was due: its maker may still live
        assert await schedule.look() is None
        schedule.clock.set(died + LEASE + timedelta(minutes=1))  # its claim has lapsed
        assert await schedule.look() == "2034-W08"
    finally:
        await schedule.pool.close()
    assert maker.calls == ["2034-W08"]


async def test_a_failing_maker_is_counted_and_leaves_the_week_to_a_later_look_and_off_makes_nothing(own, pg):
    calls = []

    async def broken(pool, settings, week, street):
        calls.append(week)
        raise RuntimeError("the renderer fell over")

    clock = ManualClock(utc("2035-03-05T08:10:00+08:00"))
    schedule = await scheduler(own, broken, clock)
    try:
        assert await schedule.look() is None and calls == ["2035-W09"]  # logged and counted; the sink goes on
        assert schedule.outcomes.labels("failed")._value.get() == 1
        assert await schedule.look() is None and calls == ["2035-W09"]  # its claim holds for the lease
        clock.advance(LEASE.total_seconds() + 60)
        schedule.make = FixedMaker()
        assert await schedule.look() == "2035-W09"
        off = await scheduler(dataclasses.replace(own, report_at="off"), FixedMaker(), clock)
        await asyncio.wait_for(off.run(asyncio.Event()), 1)  # returns at once: this sink makes none
        await off.pool.close()
    finally:
        await schedule.pool.close()
    assert await alerts_on(own) != []


async def test_a_district_makes_and_announces_each_streets_week_then_the_districts_each_with_its_alert_and_link(
    own, scratch
):
    clock, maker = ManualClock(utc("2036-03-10T08:00:30+08:00")), FixedMaker()
    district = dataclasses.replace(own, geometry_path=district_path(2), database_url=scratch)
    schedule = await scheduler(district, maker, clock)
    try:
        assert await schedule.look() == "2036-W10"
        assert await schedule.look() is None
    finally:
        await schedule.pool.close()
    # The district's last (its maker is called without a street), once both streets' are stored.
    assert (maker.calls, maker.streets) == (["2036-W10"] * 3, ["xichangan", "xinjiekou", None])
    db = await asyncpg.connect(scratch)
    try:
        rows = await db.fetch("SELECT street_id, alert_id FROM weekly_reports WHERE week = '2036-W10' ORDER BY 1")
    finally:
        await db.close()
    assert [(r["street_id"], r["alert_id"]) for r in rows] == [
        ("xichangan", "report:weekly:xichangan:2036-W10"),
        ("xicheng", "report:weekly:xicheng:2036-W10"),
        ("xinjiekou", "report:weekly:xinjiekou:2036-W10"),
    ]
    alerts = {a["id"]: a for a in await alerts_on(own)}
    assert {a["owner"]: (a["level"], a["link"]) for a in alerts.values()} == {
        "xichangan": ("street", "/reports/2036-W10.html?street=xichangan"),
        "xinjiekou": ("street", "/reports/2036-W10.html?street=xinjiekou"),
        "xicheng": ("district", "/reports/2036-W10.html?street=xicheng"),
    }


@dataclass
class FailingMaker(FixedMaker):
    """The maker of fixed bytes, falling over (a renderer's bug) for the streets in `failing` (None: the
    district's); every call counted."""

    failing: set[str | None] = field(default_factory=set)

    async def __call__(self, pool, settings, week: str, street: str | None = None) -> Made:
        made = await super().__call__(pool, settings, week, street)
        if street in self.failing:
            raise RuntimeError(f"the renderer fell over on {street} {week}")
        return made


async def _a_week_missed(settings, maker: FailingMaker, failing: set[str | None]) -> list[str | None]:
    """2038-W08 made on its Monday; then 2038-W09 failing for the streets in `failing` on a look every 6 hours
    (each after the claim's lease) from its Monday 08:00 to the next one's (Beijing); then, the renderer
    mended, two looks on W10's Monday, whose answers are returned."""
    clock = ManualClock(utc("2038-03-01T08:00:30+08:00"))
    schedule = await scheduler(settings, maker, clock)
    try:
        assert await schedule.look() == "2038-W08"
        maker.failing = failing
        clock.set(utc("2038-03-08T08:00:30+08:00"))
        while clock.now() < utc("2038-03-15T08:00:00+08:00"):
            await schedule.look()
            clock.advance(6 * 3600)
        maker.failing = set()
        clock.set(utc("2038-03-15T08:00:30+08:00"))
        looks = [await schedule.look(), await schedule.look()]
        # 27 looks fail; the 28th, Monday 02:00 before 08:00, has no week due yet.
        assert schedule.outcomes.labels("failed")._value.get() == 27 * len(failing)
        return looks
    finally:
        await schedule.pool.close()


@pytest.mark.parametrize(
    "catch_up, made_after, weeks",
    [
        (4, ["2038-W09", "2038-W10"], ["2038-W08", "2038-W09", "2038-W10"]),
        (0, ["2038-W10"], ["2038-W08", "2038-W10"]),  # 0: as before the setting, W09 is lost
    ],
)
async def test_a_week_failing_until_the_next_monday_is_made_then_oldest_first_each_once_and_announced_once(
    own, scratch, catch_up, made_after, weeks
):
    settings = dataclasses.replace(own, database_url=scratch, report_catch_up_weeks=catch_up)
    street = load_geometry(settings.geometry_path, check_areas=False).street.id
    maker = FailingMaker()
    assert await _a_week_missed(settings, maker, {street}) == ["2038-W10", None]
    assert maker.calls == ["2038-W08", *["2038-W09"] * 27, *made_after]
    db = await asyncpg.connect(scratch)
    try:
        rows = await db.fetch("SELECT week, announced_at FROM weekly_reports WHERE made_at IS NOT NULL ORDER BY 1")
    finally:
        await db.close()
    assert [r["week"] for r in rows] == weeks and all(r["announced_at"] for r in rows)
    ids = [a["id"] for a in await alerts_on(settings)]
    assert list(dict.fromkeys(ids)) == [f"report:weekly:{street}:{w}" for w in weeks]  # in this order, each once


async def test_a_street_with_no_report_stored_makes_only_the_week_due(own, scratch):
    settings = dataclasses.replace(own, database_url=scratch, report_catch_up_weeks=4)
    maker = FixedMaker()
    schedule = await scheduler(settings, maker, ManualClock(utc("2038-03-15T08:00:30+08:00")))
    try:
        assert await schedule.look() == "2038-W10"
    finally:
        await schedule.pool.close()
    assert maker.calls == ["2038-W10"]


async def test_a_districts_missed_week_is_made_once_both_streets_of_that_week_are_stored(own, scratch):
    settings = dataclasses.replace(own, geometry_path=district_path(2), database_url=scratch, report_catch_up_weeks=4)
    maker = FailingMaker()
    assert await _a_week_missed(settings, maker, {"xinjiekou"}) == ["2038-W10", None]
    made = list(zip(maker.calls, maker.streets, strict=True))
    assert made[:4] == [
        ("2038-W08", "xichangan"),
        ("2038-W08", "xinjiekou"),
        ("2038-W08", None),
        ("2038-W09", "xichangan"),
    ]
    assert made[4:-5] == [("2038-W09", "xinjiekou")] * 27  # the district's W09 waits: never tried
    assert made[-5:] == [
        ("2038-W10", "xichangan"),
        ("2038-W09", "xinjiekou"),
        ("2038-W10", "xinjiekou"),
        ("2038-W09", None),
        ("2038-W10", None),
    ]
    db = await asyncpg.connect(scratch)
    try:
        rows = await db.fetch(
            "SELECT week FROM weekly_reports WHERE street_id = 'xicheng' AND made_at IS NOT NULL "
            "AND announced_at IS NOT NULL ORDER BY 1"
        )
    finally:
        await db.close()
    assert [r["week"] for r in rows] == ["2038-W08", "2038-W09", "2038-W10"]
    ids = [a["id"] for a in await alerts_on(settings) if a["owner"] == "xicheng"]
    assert list(dict.fromkeys(ids)) == [f"report:weekly:xicheng:2038-W{n}" for n in ("08", "09", "10")]
