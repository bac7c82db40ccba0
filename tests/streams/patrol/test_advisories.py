"""Patrol advisories against the real Postgres: one per hot cell per interval, whoever asks and however
often they restart, because each advisory is claimed in `patrol_advisories` while it is produced."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from streams.patrol.advisories import Advisor, advise
from tests.support.hotline import insert_order

pytestmark = pytest.mark.integration

T = datetime(2031, 5, 6, 2, 0, tzinfo=UTC)  # far from any other test's reports
GRID = "c04-g02"


def advisor() -> Advisor:
    """A worker's advisor, made afresh: a restarted worker remembers nothing."""
    return Advisor(3, timedelta(minutes=30), timedelta(hours=1), lambda g: ("xichangan", "c04"), "Asia/Shanghai")


async def hot_cell(pg, reports: int = 3, device: str = "dev-1", placed_by: str | None = None) -> str:
    cell = f"8c{uuid.uuid4().hex[:12]}"
    for n in range(reports):
        await pg.execute(
            "INSERT INTO reports (id, device_id, category, severity, text, lat, lng, event_time, "
            "street_id, community_id, grid_id, cell, placed_by) VALUES ($1, $5, 'sanitation', 'low', '', "
            "39.9, 116.38, $2, 'xichangan', 'c04', $3, $4, $6)",
            f"{device}-{cell}-{n}",
            T - timedelta(minutes=n),
            GRID,
            cell,
            device,
            placed_by,
        )
    return cell


@pytest.fixture
async def pool(database_url):
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


async def test_one_advisory_per_cell_per_interval_across_restarts_and_two_workers_at_once(pool, pg):
    cell = await hot_cell(pg)
    sent: list[dict] = []

    async def slow_broker(alerts: list[dict]) -> None:
        await asyncio.sleep(0.3)  # the claim stays held meanwhile
        sent.extend(alerts)

    async def round_at(when: datetime) -> list[str]:
        return [a["id"] for a in await advise(pool, advisor(), when, lambda g: [], slow_broker) if cell in a["id"]]

    # Two workers that both think they own partition 0 (a rebalance, a paused one), a second apart.
    both = await asyncio.gather(round_at(T), round_at(T + timedelta(seconds=1)))
    assert sorted(map(len, both)) == [0, 1]
    # Whichever claimed first (on a loaded machine the later one may), the interval counts from its claim.
    claimed = T if both[0] else T + timedelta(seconds=1)
    assert await round_at(claimed + timedelta(minutes=29)) == []  # restarted within the interval: nothing
    next_one = f"patrol:patrol_advisory:{cell}:{claimed + timedelta(minutes=30):%Y%m%dT%H%M%SZ}"
    assert await round_at(claimed + timedelta(minutes=30)) == [next_one]
    assert [a["id"] for a in sent if cell in a["id"]] == both[0] + both[1] + [next_one]


async def test_an_advisory_the_broker_refused_is_not_claimed_and_goes_out_next_time(pool, pg):
    cell = await hot_cell(pg)

    async def refusing(alerts: list[dict]) -> None:
        raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        await advise(pool, advisor(), T, lambda g: [], refusing)
    assert await pg.fetchval("SELECT count(*) FROM patrol_advisories WHERE cell = $1", cell) == 0

    async def taking(alerts: list[dict]) -> None:
        return None

    later = await advise(pool, advisor(), T + timedelta(seconds=30), lambda g: [], taking)
    assert [a["id"] for a in later if cell in a["id"]] == [f"patrol:patrol_advisory:{cell}:20310506T020030Z"]


async def hotline_order(
    pg, cell: str, *, grid_first: bool = False, placed_by: str = "location", dispatched: datetime = T
) -> str:
    """A 12345 order as the sink stores it, placed in `cell` of GRID."""
    order = f"GD{uuid.uuid4().hex[:10]}"
    await insert_order(
        pg,
        order,
        received_at=dispatched,
        dispatched_at=dispatched,
        community_id="c04",
        grid_id=GRID,
        cell=cell,
        placed_by=placed_by,
        grid_first=grid_first,
    )
    return order


def new_cell() -> str:
    return f"8c{uuid.uuid4().hex[:12]}"


async def advised(pool, cells: set[str], when: datetime = T) -> dict[str, dict]:
    async def taking(alerts: list[dict]) -> None:
        return None

    sent = await advise(pool, advisor(), when, lambda g: [], taking)
    return {a["id"].split(":")[2]: a for a in sent if a["id"].split(":")[2] in cells}


async def test_one_blind_spot_makes_its_cell_hot_below_the_report_threshold_and_says_12345_heard_first(pool, pg):
    blind, with_reports = new_cell(), await hot_cell(pg, reports=1)
    await hotline_order(pg, blind, placed_by="address")
    await hotline_order(pg, with_reports, dispatched=T - timedelta(minutes=59))
    found = await advised(pool, {blind, with_reports})
    assert set(found) == {blind, with_reports}
    assert found[blind]["body"]["zh"] == (
        f"12345 热线先于网格发现：H3 单元 {blind} 近1小时00分内 1 件热线工单此前无网格上报"
        "（截至 2031-05-06 10:00，共 0 起事件上报），请前往巡查"
    )
    assert found[blind]["body"]["en"].startswith("12345 heard of it before the grid: 1 hotline orders")
    assert "共 1 起事件上报" in found[with_reports]["body"]["zh"]
    assert (found[blind]["grid"], found[blind]["kind"]) == (GRID, "patrol_advisory")
    # The claim holds for blind spots too: one advisory per cell per interval.
    assert await advised(pool, {blind}, T + timedelta(minutes=29)) == {}
    assert list(await advised(pool, {blind}, T + timedelta(minutes=30))) == [blind]


async def test_no_blind_spot_where_the_grid_saw_it_first_or_no_point_placed_it_or_it_is_outside_the_window(pool, pg):
    cells = {
        await hotline_order(pg, cell, **how) and cell
        for cell, how in (
            (new_cell(), {"grid_first": True}),
            (new_cell(), {"placed_by": "community"}),
            (new_cell(), {"placed_by": "grid"}),
            (new_cell(), {"placed_by": "unlocated"}),
            (new_cell(), {"dispatched": T - timedelta(hours=1)}),  # the window is (T - 1 h, T]
            (new_cell(), {"dispatched": T + timedelta(seconds=1)}),
        )
    }
    assert await advised(pool, cells) == {}


async def test_a_cell_hot_by_its_reports_says_so_without_a_blind_spot(pool, pg):
    cell = await hot_cell(pg)
    await hotline_order(pg, cell, grid_first=True)
    [advisory] = (await advised(pool, {cell})).values()
    assert advisory["body"]["zh"].startswith(f"热点（H3 单元 {cell}）") and "12345" not in advisory["body"]["zh"]


async def test_reports_of_12345_orders_placed_only_by_their_area_never_make_a_cell_hot(pool, pg):
    """Such a report stands at its grid's or community's centre: three orders naming one grid are not a hot
    spot at its middle. Orders placed by their own point count like any report."""
    # As the reports sink stores them: each report keeps how its order was placed.
    by_area = await hot_cell(pg, device="12345", placed_by="grid")
    by_point = await hot_cell(pg, device="12345", placed_by="location")
    for cell, placed_by in ((by_area, "grid"), (by_point, "location")):
        for n in range(3):
            await insert_order(
                pg, f"12345-{cell}-{n}"[6:], report_id=f"12345-{cell}-{n}", placed_by=placed_by,
                dispatched_at=T - timedelta(days=3), grid_first=True,
            )  # fmt: skip

    async def nothing(alerts: list[dict]) -> None:
        pass

    sent = [a["id"] for a in await advise(pool, advisor(), T, lambda g: [], nothing)]
    assert not any(by_area in a for a in sent)
    assert any(by_point in a for a in sent)
