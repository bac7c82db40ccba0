"""12345 records as the worker publishes them on redwall.hotline-located.v1 (validated), and field
reports near them, for the tests of the hotline sink, its rates and its retention."""

from __future__ import annotations

from datetime import datetime

from config.hotline import HotlineConfig
from schemas.hotline import HotlineEvent, LocatedHotlineOrder, check_event
from schemas.records import LocatedReport
from tests.support.hotline import WORKING_CALENDAR

CATALOGUE = {  # a Redwall category -> a catalogue code config/hotline.toml maps to it
    "sanitation": "0101",
    "illegal_parking": "0103",
    "group_renting": "0201",
    "facility_damage": "0202",
    "dispute": "04",
}


def located_order(
    config: HotlineConfig,
    order_id: str,
    dispatched_at: datetime,
    *,
    community: str = "c01",
    grid: str | None = "c01-g01",
    category: str = "sanitation",
    urgency: str = "ordinary",
    point: tuple[float, float] | None = (39.9, 116.37),
    placed_by: str = "location",
    contact_hash: str = "ab" * 32,
) -> dict:
    value = {
        "type": "order",
        "id": order_id,
        "received_at": dispatched_at.isoformat(),
        "dispatched_at": dispatched_at.isoformat(),
        "channel": "phone",
        "appeal_type": "complaint",
        "catalogue": [{"code": CATALOGUE[category], "name": "城市管理"}],
        "urgency": urgency,
        "content": "楼道堆物，来电人称已持续一周",
        "address": "西城区新文化街 1 号",
        "lead_unit": "西长安街街道",
        "contact_masked": "138****1234",
        "contact_hash": contact_hash,
        "street": "xichangan",
        "community": community,
        "placed_by": placed_by,
        "category": category,
        "report": f"12345-{order_id}",
        "limits": config.limits(urgency, dispatched_at, WORKING_CALENDAR).as_record(),
    }
    if grid:
        value["grid"] = grid
    if point:
        value["point"] = {"lat": point[0], "lng": point[1]}
        value["location"] = {"lat": point[0], "lng": point[1], "accuracy": 10.0}
    return LocatedHotlineOrder.validate(value)


def order_event(event_id: str, order_id: str, kind: str, time: datetime, **fields) -> dict:
    value = {"type": "event", "id": event_id, "order": order_id, "kind": kind, "time": time.isoformat(), **fields}
    return check_event(HotlineEvent.validate(value))


def field_report(report_id: str, category: str, point: tuple[float, float], when: datetime, **changes) -> dict:
    value = {
        "id": report_id,
        "device": "dev-grid-1",
        "category": category,
        "severity": "low",
        "text": "网格员巡查上报",
        "location": {"lat": point[0], "lng": point[1], "accuracy": 5.0},
        "event_time": when.isoformat(),
        "street": "xichangan",
        "community": "c01",
        "grid": "c01-g01",
        "cell": "8c31aa4298d1bff",
        **changes,
    }
    return LocatedReport.validate(value)
