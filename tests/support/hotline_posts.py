"""12345 work orders and events as the adapter posts them, near now (the edge refuses times far ahead),
and the records of them that reached redwall.hotline.v1."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from schemas import json
from streams.topics import read_topic

ADAPTER_KEY = b"adapter-key-for-tests"  # the adapter's own HMAC key: Redwall never holds it


def contact_hash(phone: str) -> str:
    """HMAC-SHA256 over the phone's digits under the adapter's key, lowercase hex (docs/hotline-integration.md)."""
    return hmac.new(ADAPTER_KEY, "".join(c for c in phone if c.isdigit()).encode(), hashlib.sha256).hexdigest()


def stamp(ago: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) - ago).isoformat(timespec="seconds")


def order(order_id: str, **fields) -> dict:
    """A valid order, dispatched an hour ago, without `type` (the route sets it); `fields` replace or add."""
    return {
        "id": order_id,
        "received_at": stamp(timedelta(hours=2)),
        "dispatched_at": stamp(timedelta(hours=1)),
        "channel": "phone",
        "appeal_type": "complaint",
        "catalogue": [{"code": "01", "name": "城市管理"}, {"code": "0103", "name": "停车管理"}],
        "urgency": "ordinary",
        "content": "灵境胡同口有车辆长期占用消防通道",
        "address": "灵境胡同39号",
        "location": {"lat": 39.907665, "lng": 116.356437},
        "platform_community": "c01",
        "lead_unit": "西长安街街道办事处",
        "assisting_units": ["西城交通支队"],
        "contact_masked": "138****1234",
        "contact_hash": contact_hash("13800001234"),
        **fields,
    }


def event(event_id: str, kind: str, **fields) -> dict:
    """A valid event of `kind` with what its kind needs, without `type` and `order` (the URL names it)."""
    needs = {
        "contacted": {},
        "extended": {"new_limit": stamp(-timedelta(days=10))},
        "returned": {"returned_to": "区水务局"},
        "closed": {"result": "已协调清理通道"},
        "callback": {"resolved": "yes", "satisfaction": "basically_satisfied"},
    }
    return {"id": event_id, "kind": kind, "time": stamp(), "actor": "wang", **needs[kind], **fields}


async def hotline_records(settings, key: bytes) -> list[dict]:
    """The records on redwall.hotline.v1 under `key` (an order id), in the order of the log."""
    return [json.loads(r.value) async for r in read_topic(settings, settings.topic_hotline) if r.key == key]
