"""12345 orders and events as the adapter posts them, for the hotline tests (unit and integration)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

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
