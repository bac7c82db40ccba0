"""Gauges of the 12345 work orders for Prometheus and Grafana, read from PostgreSQL every minute by the sink
process: the rates per community (month to date and rolling 30 days, sinks/hotline_rates.py), orders by
community and status, and the 前响应 share; each with the community's street, so a district's dashboards
pick one. Read from the tables, so they are right whichever worker placed
an order and across restarts; Grafana draws their trend from Prometheus's history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
from prometheus_client import CollectorRegistry, Gauge

from config.hotline import HotlineConfig, load_hotline
from config.settings import Settings
from consumers.state_gauges import PolledGauges
from sinks.hotline_rates import PERIODS, RATES, rates
from streams.metrics import show

POLL_SECONDS = 60.0  # the rates move with events arriving over hours; a minute is fresh enough for a dashboard

# Open orders, and among them the overdue ones: a contact limit passed uncontacted or a resolve limit passed
# (the latest extension's), as the console's clocks count them. Closed and returned: every order stored.
ORDERS_SQL = """
SELECT street_id, community_id, s.status, count(*)
FROM hotline_orders o, LATERAL (VALUES
    (CASE WHEN closed_at IS NOT NULL THEN 'closed' WHEN returned_at IS NOT NULL THEN 'returned' ELSE 'open' END),
    (CASE WHEN returned_at IS NULL AND closed_at IS NULL
               AND ((contacted_at IS NULL AND contact_by <= $1) OR coalesce(extended_to, resolve_by) <= $1)
          THEN 'overdue' END)
) s (status)
WHERE s.status IS NOT NULL
GROUP BY 1, 2, 3
"""


class HotlineGauges(PolledGauges):
    name = "hotline gauges"

    def __init__(
        self,
        pool: asyncpg.Pool,
        config: HotlineConfig,
        registry: CollectorRegistry,
        *,
        timezone: str,
        now: Callable[[], datetime] | None = None,
        interval: float = POLL_SECONDS,
    ):
        super().__init__(pool, interval)
        self.config, self.timezone = config, timezone
        self.now = now or (lambda: datetime.now(UTC))
        self.rate = Gauge(
            "redwall_hotline_rate",
            "12345 rates per community (0..1): response, resolution, satisfaction, on_time, composite; "
            "period month (to date) or 30d",
            ["rate", "street", "community", "period"],
            registry=registry,
        )
        self.orders = Gauge(
            "redwall_hotline_orders",
            "12345 orders by street, community and status: open (of which overdue), closed, returned",
            ["street", "community", "status"],
            registry=registry,
        )
        self.first = Gauge(
            "redwall_hotline_grid_first_ratio",
            "前响应: share of this month's orders placed by a point that the grid had reported first",
            ["street", "community"],
            registry=registry,
        )
        self.shown: dict[str, set] = {"rate": set(), "orders": set(), "first": set()}

    @classmethod
    def from_settings(cls, settings: Settings, pool: asyncpg.Pool, registry: CollectorRegistry) -> HotlineGauges:
        """The config file is read (and refused) when the sink starts, not a minute later."""
        return cls(pool, load_hotline(settings.hotline_path), registry, timezone=settings.timezone)

    async def read(self, conn: asyncpg.Connection) -> None:
        now = self.now()
        order_values = {(st, str(c), s): n for st, c, s, n in await conn.fetch(ORDERS_SQL, now)}
        # Every community with a rate has orders stored, so the orders name its street.
        streets = {community: street for street, community, _ in order_values}
        rate_values, first_values = await self._rates(conn, now, streets)
        self.shown["rate"] = show(self.rate, self.shown["rate"], rate_values)
        self.shown["first"] = show(self.first, self.shown["first"], first_values)
        self.shown["orders"] = show(self.orders, self.shown["orders"], order_values)

    async def _rates(self, conn, now: datetime, streets: dict[str, str]) -> tuple[dict, dict]:
        """A rate with no orders to count (None) is no sample at all, rather than a zero that reads as failure."""
        values, first = {}, {}
        for period in PERIODS:
            for r in await rates(conn, self.config, now, by="community", period=period, tz=self.timezone):
                street = streets.get(str(r.key), "")
                for name in RATES:
                    if getattr(r, name) is not None:
                        values[(name, street, str(r.key), period)] = getattr(r, name)
                if period == "month" and r.grid_first is not None:  # 前响应: None with no order placed by a point
                    first[(street, str(r.key))] = r.grid_first
        return values, first
