"""Patrol advisories against the real Postgres: one per hot cell per interval, whoever asks and however
often they restart, because each advisory is claimed in `patrol_advisories` while it is produced."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from streams.patrol.advisories import Advisor, advise

pytestmark = pytest.mark.integration

T = datetime(2031, 5, 6, 2, 0, tzinfo=UTC)  # far from any other test's reports
GRID = "c04-g02"


def advisor() -> Advisor:
    """A worker's advisor, made afresh: a restarted worker remembers nothing."""
    return Advisor(3, timedelta(minutes=30), timedelta(hours=1), lambda g: ("xichangan", "c04"), "Asia/Shanghai")


async def hot_cell(pg, reports: int = 3) -> str:
    cell = f"8c{uuid.uuid4().hex[:12]}"
    for n in range(reports):
        await pg.execute(
            "INSERT INTO reports (id, device_id, category, severity, text, lat, lng, event_time, "
            "street_id, community_id, grid_id, cell) VALUES ($1, 'dev-1', 'sanitation', 'low', '', "
            "39.9, 116.38, $2, 'xichangan', 'c04', $3, $4)",
            f"{cell}-{n}",
            T - timedelta(minutes=n),
            GRID,
            cell,
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
