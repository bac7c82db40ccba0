"""12345 work orders written straight into hotline_orders, in the state the sink derives from their events,
for the tests of what reads them (the console's 12345 view, the gauges, the dashboards)."""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas import json

COLUMNS = (
    "id",
    "received_at",
    "dispatched_at",
    "channel",
    "appeal_type",
    "catalogue",
    "catalogue_code",
    "urgency",
    "content",
    "address",
    "lat",
    "lng",
    "street_id",
    "community_id",
    "grid_id",
    "placed_by",
    "category",
    "report_id",
    "lead_unit",
    "contact_masked",
    "contact_by",
    "resolve_by",
    "warn_at",
    "rules_version",
    "grid_first",
    "contacted_at",
    "extended_to",
    "returned_at",
    "closed_at",
    "callback_at",
    "callback_resolved",
    "satisfaction",
)


def order(order_id: str, community: str, dispatched: datetime, **changes) -> dict:
    """An ordinary sanitation order placed by its point in `community`, due in 2 h (contact) and 7 days."""
    row = {
        "id": order_id,
        "received_at": dispatched - timedelta(minutes=10),
        "dispatched_at": dispatched,
        "channel": "phone",
        "appeal_type": "complaint",
        "catalogue": json.dumps([{"code": "01", "name": "城市管理"}, {"code": "0101", "name": "环境卫生"}]).decode(),
        "catalogue_code": "0101",
        "urgency": "ordinary",
        "content": f"楼下垃圾堆放多日无人清运 {order_id}",
        "address": "西长安街街道某小区 3 号楼",
        "lat": 39.8969,
        "lng": 116.3828,
        "street_id": "xichangan",
        "community_id": community,
        "grid_id": None,
        "placed_by": "location",
        "category": "sanitation",
        "report_id": f"12345-{order_id}",
        "lead_unit": "西长安街街道",
        "contact_masked": "138****1234",
        "contact_by": dispatched + timedelta(hours=2),
        "resolve_by": dispatched + timedelta(days=7),
        "warn_at": 0.8,
        "rules_version": "test",
        "grid_first": False,
        "contacted_at": None,
        "extended_to": None,
        "returned_at": None,
        "closed_at": None,
        "callback_at": None,
        "callback_resolved": None,
        "satisfaction": None,
    }
    unknown = changes.keys() - row.keys()
    assert not unknown, f"not a column of hotline_orders: {unknown}"
    return {**row, **changes}


async def insert_orders(pg, orders: list[dict]) -> None:
    placeholders = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
    await pg.executemany(
        f"INSERT INTO hotline_orders ({', '.join(COLUMNS)}) VALUES ({placeholders})",
        [tuple(o[c] for c in COLUMNS) for o in orders],
    )
