"""The 12345 gauges read from real PostgreSQL: the rates per community for the month and 30 days, orders by
status with the overdue among the open, and the 前响应 share, against figures counted by hand; each with the
community's street."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from config.hotline import load_hotline
from config.settings import Settings
from consumers.hotline_gauges import HotlineGauges
from tests.support.hotline_rows import insert_orders, order

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 20, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
DAY = timedelta(days=1)


def december(run: str, community: str) -> list[dict]:
    """Seven orders; the comments say how each one counts (config/hotline.toml: min_n 10, 基本满意 0.8)."""
    at = lambda day, hour=2: datetime(2026, 12, day, hour, tzinfo=UTC)  # noqa: E731
    o = lambda n, day, **c: order(f"hg-{run}-{n}", community, at(day), **c)  # noqa: E731
    return [
        # contacted in time, closed in time, call-back: resolved, satisfied; the grid saw it first
        o(1, 10, contacted_at=at(10, 3), closed_at=at(12), callback_at=at(13), callback_resolved=True,
          satisfaction="satisfied", grid_first=True),
        # contacted late, closed late, call-back: not resolved, not satisfied; a blind spot
        o(2, 11, contacted_at=at(11, 5), closed_at=at(19), callback_at=at(19, 8), callback_resolved=False,
          satisfaction="not_satisfied"),
        # never contacted, open past its limit: late in on-time; placed by its community, not a point
        o(3, 12, placed_by="community", lat=None, lng=None),
        # dispatched an hour ago: contact not due yet, so in no response count
        o(4, 20, grid_first=True, dispatched_at=at(20, 3), contact_by=at(20, 5)),
        # returned as not ours: in no rate
        o(5, 15, returned_at=at(15, 6)),
        # extended, closed after its first limit but before its new one: on time; basically satisfied
        o(6, 13, contacted_at=at(13, 3), extended_to=at(22), closed_at=at(19), callback_at=at(19, 6),
          callback_resolved=True, satisfaction="basically_satisfied"),
        # November, inside the rolling 30 days only: contacted in time, closed in time
        order(f"hg-{run}-7", community, datetime(2026, 11, 25, 2, tzinfo=UTC), contacted_at=datetime(2026, 11, 25, 3, tzinfo=UTC),
              closed_at=datetime(2026, 11, 26, tzinfo=UTC)),
    ]  # fmt: skip


async def test_rates_orders_and_grid_first_share_per_community(database_url, pg):
    run = uuid.uuid4().hex[:8]
    community, quiet = f"hg-{run}-c", f"hg-{run}-q"
    await insert_orders(pg, december(run, community))
    other = f"hg-{run}-street"  # the quiet community lies in a second street
    await insert_orders(pg, [order(f"hg-{run}-q1", quiet, NOW - timedelta(minutes=30), street_id=other)])  # not due

    registry = CollectorRegistry()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        gauges = HotlineGauges(pool, load_hotline(Settings.from_env().hotline_path), registry,
                               timezone="Asia/Shanghai", now=lambda: NOW)  # fmt: skip
        await gauges.poll()

        streets = {community: "xichangan", quiet: other}

        def rate(name, period="month", where=community):
            return registry.get_sample_value(
                "redwall_hotline_rate", {"rate": name, "street": streets[where], "community": where, "period": period}
            )

        assert rate("response") == pytest.approx(2 / 4)  # of 1, 2, 3, 6: 1 and 6 in time
        assert rate("resolution") == pytest.approx(2 / 3)  # call-backs 1, 2, 6
        assert rate("satisfaction") == pytest.approx((1 + 0.8) / 3)
        assert rate("on_time") == pytest.approx(2 / 4)  # closed 1, 2 (late), 6; open past its limit: 3
        assert rate("composite") == pytest.approx(0.2 * 0.5 + 0.4 * 2 / 3 + 0.4 * 0.6)
        assert rate("response", "30d") == pytest.approx(3 / 5)
        assert rate("on_time", "30d") == pytest.approx(3 / 5)
        # Nothing due and no call-back yet: no sample, rather than a 0 % that reads as failure.
        assert rate("response", where=quiet) is None and rate("satisfaction", where=quiet) is None

        def orders(status, where=community):
            labels = {"street": streets[where], "community": where, "status": status}
            return registry.get_sample_value("redwall_hotline_orders", labels)

        assert (orders("open"), orders("overdue"), orders("closed"), orders("returned")) == (2, 1, 4, 1)
        assert orders("open", quiet) == 1 and orders("overdue", quiet) is None
        # Placed by a point this month: 1, 2, 4, 6, of which the grid had reported 1 and 4 first.
        share = registry.get_sample_value(
            "redwall_hotline_grid_first_ratio", {"street": "xichangan", "community": community}
        )
        assert share == pytest.approx(2 / 4)

        # Orders gone (retention) take their series with them instead of leaving the last value standing.
        await pg.execute("DELETE FROM hotline_orders WHERE community_id = $1", quiet)
        await gauges.poll()
        assert orders("open", quiet) is None
        assert rate("on_time", where=quiet) is None
    finally:
        await pool.close()
