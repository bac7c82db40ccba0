"""12345 orders and events as the adapter posts them, for the hotline tests (unit and integration)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from config.calendar import load_calendar
from config.settings import CALENDAR, CONFIG_DIR

# The street's working calendar as shipped, with the illustrative 2027 the tests and the demo use (a test
# whose dates follow today's may run into next year).
WORKING_CALENDAR = load_calendar(CALENDAR, CONFIG_DIR / "sample" / "holidays", "Asia/Shanghai", cover_check=False)
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing, a Monday
PLAIN = (39.8969, 116.3828)  # in c03-g01, outside every sensitive zone
OUTSIDE = (39.93, 116.41)  # north-east of the street, in no grid
ADDRESS = ("钟声胡同34号", (39.908214, 116.372042))  # a row of config/sample/hotline_addresses.csv


def order(order_id: str, *, at: datetime = T0, code: str = "0103", urgency: str = "ordinary", **fields) -> dict:
    """A HotlineOrder; `fields` add or replace (location=(lat, lng), platform_grid=..., address=...)."""
    where = fields.pop("location", None)
    record = {
        "type": "order",
        "id": order_id,
        "received_at": at.isoformat(),
        "dispatched_at": at.isoformat(),
        "channel": "phone",
        "appeal_type": "complaint",
        "catalogue": [{"code": code[:2], "name": "城市管理"}, {"code": code, "name": "停车管理"}],
        "urgency": urgency,
        "content": "小区门口长期乱停车，堵塞消防通道",
        "address": "",
        "lead_unit": "西长安街街道",
        "contact_masked": "138****1234",
        "contact_hash": hashlib.sha256(order_id.encode()).hexdigest(),
        **fields,
    }
    if where:
        record["location"] = {"lat": where[0], "lng": where[1]}
    return record


def event(event_id: str, order_id: str, kind: str, at: datetime, **fields) -> dict:
    return {"type": "event", "id": event_id, "order": order_id, "kind": kind, "time": at.isoformat(), **fields}


async def insert_order(conn, order_id: str, **columns) -> None:
    """A row of hotline_orders as the sink stores a placed order, dispatched at T0 (contact in 2 h, resolve
    in 7 days, warning at 80 %); `columns` add or replace, the state ones too (contacted_at, closed_at ...)."""
    row = {
        "id": order_id, "received_at": T0, "dispatched_at": T0, "channel": "phone", "appeal_type": "complaint",
        "catalogue": '[{"code": "0103", "name": "停车管理"}]', "catalogue_code": "0103", "urgency": "ordinary",
        "content": "乱停车", "address": "", "street_id": "xichangan", "community_id": "c03", "grid_id": "c03-g01",
        "placed_by": "grid", "category": "illegal_parking", "report_id": f"12345-{order_id}",
        "lead_unit": "西长安街街道", "contact_masked": "138****1234", "contact_by": T0 + timedelta(hours=2),
        "resolve_by": T0 + timedelta(days=7), "warn_at": 0.8, "rules_version": "test", "grid_first": False,
        **columns,
    }  # fmt: skip
    marks = ", ".join(f"${n}" for n in range(1, len(row) + 1))
    await conn.execute(f"INSERT INTO hotline_orders ({', '.join(row)}) VALUES ({marks})", *row.values())
