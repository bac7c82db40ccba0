"""Patrol advisories (前响应): an H3 cell with enough recent reports becomes an advisory for the workers
of its grid, at most one per cell per repeat interval. So does a cell with a single recent blind spot: a
12345 order placed by a point (its location or its address) that the grid had not reported before the
hotline heard of it (`hotline_orders.grid_first` false, migration 0011); the advisory says so.

`Advisor` makes the records (pure). `advise` finds the hot cells in Postgres and claims each one in
`patrol_advisories` (migration 0008) in a transaction that stays open until the broker has the
advisories: a cell is claimed only if its last advisory is at least the interval old, and a worker
claiming it at the same moment waits on the row and then finds it taken. So the interval holds across
worker restarts, rebalances, and a paused worker that still thinks it owns partition 0. A worker that
dies between the broker's acknowledgement and the commit leaves the claim undone: the advisory may
then go out once more, under a new id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

import asyncpg

from schemas.display import ALERT_KIND, local_minute, span_zh
from sinks.hotline import BY_POINT, at_a_place
from streams.patrol.coverage import patrol_alert

# Reports and blind spots per cell in the window; hotline_orders.cell is at the registry's resolution, as
# reports.cell is, so the two meet on one cell.
_HOT_SQL = f"""
WITH seen AS (
    SELECT cell, grid_id, count(*)::int AS n FROM reports
    WHERE event_time > $1 AND event_time <= $2 AND grid_id IS NOT NULL AND {at_a_place("reports")}
    GROUP BY cell, grid_id),
blind AS (
    SELECT cell, grid_id, count(*)::int AS blind FROM hotline_orders
    WHERE dispatched_at > $1 AND dispatched_at <= $2 AND NOT grid_first AND placed_by IN {BY_POINT}
      AND cell IS NOT NULL AND grid_id IS NOT NULL
    GROUP BY cell, grid_id)
SELECT cell, grid_id, coalesce(seen.n, 0) AS n, coalesce(blind.blind, 0) AS blind
FROM seen FULL JOIN blind USING (cell, grid_id)
WHERE coalesce(seen.n, 0) >= $3 OR blind.blind > 0"""
_CLAIM_SQL = """
INSERT INTO patrol_advisories AS last (cell, advised_at, alert_id)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[])
ON CONFLICT (cell) DO UPDATE SET advised_at = excluded.advised_at, alert_id = excluded.alert_id
WHERE last.advised_at <= excluded.advised_at - $4::interval
RETURNING cell"""


class Advisor:
    """Hot spots (H3 cells with at least `min_reports` reports, or a blind spot, in the last `window`) ->
    advisory records."""

    def __init__(
        self, min_reports: int, repeat: timedelta, window: timedelta, place: Callable[[str], tuple[str, str]], tz: str
    ):
        self.min_reports, self.repeat, self.window, self.place, self.tz = min_reports, repeat, window, place, tz

    def advise(
        self, counts: Iterable[tuple[str, str, int, int]], now: datetime, devices: Callable[[str], list[str]]
    ) -> dict[str, dict]:
        """`counts`: (cell, grid, reports, blind spots), each in the window; the advisory of each hot
        cell, by cell, hottest first. Whether it goes out is the claim's to say."""
        found = {}
        for cell, grid, count, blind in sorted(counts, key=lambda c: (-c[2], -c[3], c[0])):
            if (count >= self.min_reports or blind > 0) and cell not in found:
                found[cell] = self._advisory(cell, grid, count, blind, now, devices(grid))
        return found

    def _advisory(self, cell: str, grid: str, count: int, blind: int, now: datetime, devices: list[str]) -> dict:
        street, community = self.place(grid)
        title = {"zh": f"{grid} {ALERT_KIND['patrol_advisory']}", "en": f"{grid} patrol advisory"}
        body = self._body(cell, count, blind, now)
        return patrol_alert(
            "patrol_advisory", "firing", grid, street, community, now, now, now, devices, title, body, subject=cell
        )

    def _body(self, cell: str, count: int, blind: int, now: datetime) -> dict:
        """Why the cell is hot: its reports, or 12345 orders the grid had not reported first (blind spots)."""
        span, minute = span_zh(self.window.total_seconds()), local_minute(now, self.tz)
        if blind:
            return {
                "zh": f"12345 热线先于网格发现：H3 单元 {cell} 近{span}内 {blind} 件热线工单此前无网格上报"
                f"（截至 {minute}，共 {count} 起事件上报），请前往巡查",
                "en": f"12345 heard of it before the grid: {blind} hotline orders in H3 cell {cell} within "
                f"{self.window} up to {now.isoformat()} that no grid report came before ({count} reports): patrol it",
            }
        return {
            "zh": f"热点（H3 单元 {cell}）：截至 {minute}，近{span}内 {count} 起事件上报，请前往巡查",
            "en": f"{count} reports in H3 cell {cell} within {self.window} up to {now.isoformat()}: patrol it",
        }


async def advise(
    pool: asyncpg.Pool,
    advisor: Advisor,
    now: datetime,
    devices: Callable[[str], list[str]],
    send: Callable[[list[dict]], Awaitable[None]],
) -> list[dict]:
    """Advise the hot cells whose last advisory is at least the interval old; `send` produces the
    records and returns once the broker has them. Returns what was sent."""
    rows = await pool.fetch(_HOT_SQL, now - advisor.window, now, advisor.min_reports)
    found = advisor.advise([(r["cell"], r["grid_id"], r["n"], r["blind"]) for r in rows], now, devices)
    if not found:
        return []
    async with pool.acquire() as conn, conn.transaction():
        claimed = await conn.fetch(
            _CLAIM_SQL, list(found), [now] * len(found), [a["id"] for a in found.values()], advisor.repeat
        )
        taken = {r["cell"] for r in claimed}
        alerts = [alert for cell, alert in found.items() if cell in taken]
        await send(alerts)
    return alerts
