"""The clocks of 12345 orders (接诉即办): an early warning (临期预警) once `warn_at` of a limit's time has
gone, and a breach (超时) once the limit has passed, for each step not done: contact (先行联系: no
`contacted` event) and resolve (办结: neither closed nor returned; the limit is the latest extension's,
when extended). The warning instants are counted once on the working calendar, in each limit's own
measure, and stored with the order (migration 0015): at dispatch, and by the sink at an extension. An
order stored without them (before 0015) warns at the linear share of the calendar time from dispatch.

`due_stages` and `clock_alert` are pure. `tick` reads the open orders from hotline_orders (state kept by
the sink from their events) and claims each stage in hotline_clock_alerts (migration 0011) in a
transaction held until the broker has the alerts, as patrol advisories do (streams/patrol/advisories.py):
a worker claiming the same stage at the same moment waits on the row and then finds it taken, so each
stage is sent once across restarts and rebalances. An extension makes a new limit, and so new stages.
A stage older than the alerts' max age is claimed and sent to nobody.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from config.calendar import WorkingCalendar
from config.hotline import HotlineConfig
from config.spans import parse_span
from schemas.display import ALERT_KIND, CATEGORY, CLOCK, URGENCY, local_minute, span_zh, work_span_zh
from schemas.records import UNLOCATED
from streams.escalation.reasons import place_zh

STAGES = {"warning": "hotline_warning", "breach": "hotline_breached"}  # stage -> alert kind
_DO = {"contact": ("请尽快先行联系诉求人", "contact the complainant"), "resolve": ("请尽快办结", "resolve it")}

# Open orders only (the partial index hotline_orders_open), and of those only the ones whose first warning
# has come; the claims already made come along, so a stage claimed once is not offered again. The linear
# share stands in for a warning instant the order was stored without.
_CANDIDATES_SQL = """
SELECT c.*,
       coalesce((SELECT array_agg(a.clock || ' ' || a.stage || ' ' || to_char(a.due AT TIME ZONE 'UTC',
                 'YYYYMMDD"T"HH24MISS"Z"')) FROM hotline_clock_alerts a WHERE a.order_id = c.id), '{}') AS claimed
FROM (
    SELECT o.id, o.dispatched_at, o.urgency, o.category, o.street_id, o.community_id, o.grid_id, o.contact_by,
           coalesce(o.extended_to, o.resolve_by) AS resolve_by, o.contacted_at, o.contact_limit, o.resolve_limit,
           coalesce(o.contact_warn_at, o.dispatched_at + (o.contact_by - o.dispatched_at) * o.warn_at) AS contact_warn,
           coalesce(CASE WHEN o.extended_to IS NULL THEN o.resolve_warn_at ELSE o.extended_warn_at END,
                    o.dispatched_at + (coalesce(o.extended_to, o.resolve_by) - o.dispatched_at) * o.warn_at)
               AS resolve_warn
    FROM hotline_orders o
    WHERE o.closed_at IS NULL AND o.returned_at IS NULL
) c
WHERE c.resolve_warn <= $1 OR (c.contacted_at IS NULL AND c.contact_warn <= $1)"""
_CLAIM_SQL = """
INSERT INTO hotline_clock_alerts (order_id, clock, stage, due, alert_id, sent_at)
SELECT *, $6::timestamptz FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
ON CONFLICT DO NOTHING
RETURNING alert_id"""


@dataclass(frozen=True)
class Stage:
    """One stage of one clock of one order: `due` is the limit it belongs to, `at` when it fires."""

    order: str
    clock: str
    stage: str
    due: datetime
    at: datetime

    @property
    def alert_id(self) -> str:
        return f"hotline:{self.order}:{self.clock}:{self.stage}:{stamp(self.due)}"


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def due_stages(order: Mapping, now: datetime) -> list[Stage]:
    """The stages of an order's clocks due at `now` and not claimed (`order["claimed"]`: "clock stage
    stamp" strings); `contact_by`/`resolve_by` are the limits, `contact_warn`/`resolve_warn` their warnings.
    Past a limit only the breach is due: a warning after the fact warns nobody."""
    found, claimed = [], set(order.get("claimed") or ())
    for clock, pending in (("contact", order["contacted_at"] is None), ("resolve", True)):
        if not pending:  # candidates are open (neither closed nor returned): resolve is always pending
            continue
        limit, warn = order[f"{clock}_by"], order[f"{clock}_warn"]
        stage, at = ("breach", limit) if limit <= now else ("warning", warn) if warn <= now else (None, None)
        if stage and f"{clock} {stage} {stamp(limit)}" not in claimed:
            found.append(Stage(order["id"], clock, stage, limit, at))
    return found


def clock_alert(order: Mapping, stage: Stage, now: datetime, calendar: WorkingCalendar) -> dict:
    """The Alert for one stage: to the community (the street for an unlocated order), Chinese first."""
    unlocated = order["community_id"] == UNLOCATED
    kind = STAGES[stage.stage]
    alert = {
        "id": stage.alert_id,
        "kind": kind,
        "status": "firing",
        "level": "street" if unlocated else "community",
        "owner": order["street_id"] if unlocated else order["community_id"],
        "street": order["street_id"],
        "community": order["community_id"],
        "order": order["id"],
        "category": order["category"],
        "severity": order["severity"],
        "priority": "top" if order["urgency"] == "emergency" else "high" if stage.stage == "breach" else "normal",
        "title": {
            "zh": f"{ALERT_KIND[kind]}：{CLOCK[stage.clock]}（工单 {order['id']}）",
            "en": f"12345 order {order['id']}: {stage.clock} limit {'passed' if stage.stage == 'breach' else 'near'}",
        },
        "body": _body(order, stage, now, calendar),
        "event_time": stage.at.isoformat(),
        "created_at": now.isoformat(),
    }
    if order["grid_id"]:
        alert["grid"] = order["grid_id"]
    return alert


def _body(order: Mapping, stage: Stage, now: datetime, calendar: WorkingCalendar) -> dict:
    clock, category, tz = stage.clock, order["category"], calendar.tz.key
    left = (stage.due - now).total_seconds()
    limit = order.get(f"{clock}_limit")
    if limit and parse_span(limit).working:  # said in working time, as the limit is counted
        words = work_span_zh(calendar.between(now, stage.due, True), calendar.day.total_seconds())
    else:
        words = span_zh(left)
    warning = stage.stage == "warning"
    where = place_zh(order["community_id"]) + (f" 网格 {order['grid_id']}" if order["grid_id"] else "")
    return {
        "zh": f"12345 工单 {order['id']}（{CATEGORY[category]}，{URGENCY[order['urgency']]}，{where}）"
        f"{CLOCK[clock]} {local_minute(stage.due, tz)}，{'还剩' if warning else '已超时'}{words}，"
        f"{_DO[clock][0]}。",
        "en": f"12345 order {order['id']} ({category}, {order['urgency']}): {clock} by {stage.due.isoformat()}, "
        f"{'left' if warning else 'overdue by'} {span_en(left)}: {_DO[clock][1]}.",
    }


def span_en(seconds: float) -> str:
    minutes = int(abs(seconds) // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


async def tick(
    pool: asyncpg.Pool,
    config: HotlineConfig,
    now: datetime,
    send: Callable[[list[dict]], Awaitable[None]],
    calendar: WorkingCalendar,
    max_age: timedelta | None = None,
) -> list[dict]:
    """Claim and send the alerts of every stage due at `now`; `send` returns once the broker has them.
    A stage that came more than `max_age` ago (a first start on old orders, a worker down for days) is
    claimed but pages nobody, like every stale alert. Returns what was sent."""
    found = []
    for row in await pool.fetch(_CANDIDATES_SQL, now):
        order = {**row, "severity": config.severity[row["urgency"]]}
        found += [(stage, clock_alert(order, stage, now, calendar)) for stage in due_stages(order, now)]
    if not found:
        return []
    async with pool.acquire() as conn, conn.transaction():
        columns = [[s.order for s, _ in found], [s.clock for s, _ in found], [s.stage for s, _ in found]]
        claimed = await conn.fetch(_CLAIM_SQL, *columns, [s.due for s, _ in found], [a["id"] for _, a in found], now)
        taken = {r["alert_id"] for r in claimed}
        fresh = [a for s, a in found if a["id"] in taken and (max_age is None or now - s.at <= max_age)]
        await send(fresh)
    return fresh
