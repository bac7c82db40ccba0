"""The alert delivery log in Postgres (migration 0004): notifications written before their first
attempt, every attempt after it, and what has already been delivered so it is never sent twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from schemas import json
from sinks.notification import Notification
from sinks.postgres import open_pool, transaction
from sinks.webhook import Attempt

FINAL = ("delivered", "dead_lettered")


@dataclass(frozen=True)
class InFlight:
    """A notification found 'sending' at start-up: a worker died while it was being delivered."""

    notification: Notification
    where: dict[str, tuple[int, int]]  # alert id -> (partition, offset) in the alerts topic


class DeliveryLog:
    """The delivery process's own writer, on its own pool: its role needs neither temporary tables nor
    `positions`, so its connections prepare nothing."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, max_size: int = 4) -> DeliveryLog:
        return cls(await open_pool(dsn, max_size=max_size))

    async def close(self) -> None:
        await self.pool.close()

    async def finished(self, channel: str, items) -> set[tuple[str, int]]:
        """(alert id, seq) pairs of these items this channel already delivered or dead-lettered."""
        ids, seqs = [a["id"] for a, _ in items], [s for _, s in items]
        async with transaction(self.pool) as conn:
            rows = await conn.fetch(
                "SELECT DISTINCT d.alert_id, d.seq FROM alert_deliveries d "
                "JOIN unnest($2::text[], $3::int[]) AS i(alert_id, seq) USING (alert_id, seq) "
                "WHERE d.channel = $1 AND d.outcome = ANY($4::text[])",
                channel,
                ids,
                seqs,
                list(FINAL),
            )
        return {(r["alert_id"], r["seq"]) for r in rows}

    async def begin(self, notification: Notification, where: dict[str, tuple[int, int]]) -> int:
        """Record the notification before sending it; returns how many attempts it already had."""
        items = [{"seq": seq, "alert": alert, "where": where.get(alert["id"])} for alert, seq in notification.items]
        async with transaction(self.pool) as conn:
            await conn.execute(
                "INSERT INTO alert_notifications (key, channel, items) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                notification.key,
                notification.channel,
                json.dumps(items).decode(),
            )
            return await conn.fetchval(
                "SELECT coalesce(max(attempt), 0) FROM alert_deliveries WHERE notification = $1", notification.key
            )

    async def record(self, notification: Notification, attempt_no: int, attempt: Attempt) -> None:
        """One row per alert for this attempt; a success also closes the notification."""
        await self._rows(
            notification,
            attempt_no,
            attempt.outcome,
            attempt.latency * 1000,
            attempt.status,
            attempt.error,
            "delivered" if attempt.ok else None,
        )

    async def dead_lettered(self, notification: Notification, attempt_no: int, reason: str) -> None:
        await self._rows(notification, attempt_no, "dead_lettered", None, None, reason, "dead_lettered")

    async def _rows(self, n: Notification, attempt_no, outcome, latency_ms, status, error, state) -> None:
        rows = [
            (alert["id"], n.channel, seq, attempt_no, n.key, outcome, latency_ms, status, error)
            for alert, seq in n.items
        ]
        async with transaction(self.pool) as conn:
            # DO NOTHING: a replay of an attempt already recorded (a restart between write and commit).
            await conn.executemany(
                "INSERT INTO alert_deliveries (alert_id, channel, seq, attempt, notification, outcome, latency_ms, "
                "status_code, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                rows,
            )
            if state:
                await conn.execute(
                    "UPDATE alert_notifications SET state = $2, finished_at = now() WHERE key = $1", n.key, state
                )

    async def attempts(self, key: str) -> list[dict]:
        """Every attempt of a notification (one row per attempt, not per alert), oldest first."""
        async with transaction(self.pool) as conn:
            rows = await conn.fetch(
                "SELECT DISTINCT ON (attempt) attempt, outcome, latency_ms, status_code, error, attempted_at "
                "FROM alert_deliveries WHERE notification = $1 ORDER BY attempt",
                key,
            )
        return [dict(r) for r in rows]

    async def notified(self, channel: str) -> dict[str, tuple[int, datetime]]:
        """alert id -> (notices delivered or dead-lettered, when the last one was) on this channel."""
        async with transaction(self.pool) as conn:
            rows = await conn.fetch(
                "SELECT alert_id, max(seq) + 1 AS sent, max(attempted_at) AS last FROM alert_deliveries "
                "WHERE channel = $1 AND outcome = ANY($2::text[]) GROUP BY alert_id",
                channel,
                list(FINAL),
            )
        return {r["alert_id"]: (r["sent"], r["last"]) for r in rows}

    async def in_flight(self, channel: str) -> list[InFlight]:
        async with transaction(self.pool) as conn:
            rows = await conn.fetch(
                "SELECT key, items FROM alert_notifications WHERE channel = $1 AND state = 'sending' "
                "ORDER BY created_at",
                channel,
            )
        found = []
        for row in rows:
            items = json.loads(row["items"])
            notification = Notification(channel, "(resumed)", (), tuple((i["alert"], i["seq"]) for i in items))
            where = {i["alert"]["id"]: tuple(i["where"]) for i in items if i["where"] is not None}
            found.append(InFlight(notification, where))
        return found
