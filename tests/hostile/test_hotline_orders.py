"""Hostile bodies against POST /v1/hotline/orders and /v1/hotline/orders/{id}/events on a real worker: each
is a 4xx naming the field, nothing of it reaches redwall.hotline.v1, and the worker keeps serving; near-valid
orders drawn by hypothesis are accepted exactly when the record's own validator says so, and arrive masked."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from schemas import json
from schemas.fields import FieldError
from schemas.hotline import APPEAL_TYPES, URGENCIES, HotlineOrder
from schemas.phones import mask_free_text
from streams.topics import read_topic
from tests.hostile import strategies
from tests.hostile.strategies import hostile_text, json_values, mutated, times
from tests.support import auth
from tests.support.hotline_posts import event, order
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
ORDERS, EVENTS = "/v1/hotline/orders", "/v1/hotline/orders/{}/events"


def ahead(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat(timespec="seconds")


def oid(name: str) -> str:
    return f"{RUN}-{name}"


def cases():
    """(name, path, body, content type, status, field): one thing wrong in each."""
    o, j = order, "application/json"
    yield "urgency as a number", ORDERS, o(oid("t1"), urgency=5), j, 422, "urgency"
    yield "catalogue as text", ORDERS, o(oid("t2"), catalogue="01/0103"), j, 422, "catalogue"
    yield "latitude as text", ORDERS, o(oid("t3"), location={"lat": "39.9", "lng": 116.3}), j, 422, "location.lat"
    yield "content too long", ORDERS, o(oid("t4"), content="网" * 4001), j, 422, "content"
    yield "an unknown field", ORDERS, o(oid("u1"), priority=1), j, 422, "priority"
    yield "an event on the order route", ORDERS, o(oid("u2"), type="event"), j, 422, "type"
    yield "a clear phone as contact", ORDERS, o(oid("p1"), contact_masked="13812341234"), j, 422, "contact_masked"
    yield "a clear fixed line as contact", ORDERS, o(oid("p2"), contact_masked="010-12345678"), j, 422, "contact_masked"
    yield "an uppercase hash", ORDERS, o(oid("h1"), contact_hash="A" * 64), j, 422, "contact_hash"
    yield "a short hash", ORDERS, o(oid("h2"), contact_hash="a" * 63), j, 422, "contact_hash"
    yield "the phone as hash", ORDERS, o(oid("h3"), contact_hash="13812341234"), j, 422, "contact_hash"
    yield "dispatched in the future", ORDERS, o(oid("f1"), dispatched_at=ahead(3)), j, 422, "dispatched_at"
    yield "an id too long", ORDERS, o("x" * 59), j, 422, "id"
    many = [o(oid(f"m{i}")) for i in range(101)]
    yield "an array of 101", ORDERS, many, j, 422, "(body)"
    yield "an empty array", ORDERS, [], j, 422, "(body)"
    late = [o(oid("a0")), o(oid("a1"), received_at=ahead(5))]
    yield "one good, one too far ahead", ORDERS, late, j, 422, "1.received_at"
    wrong = [o(oid("b0")), o(oid("b1")), o(oid("b2"), urgency="whenever")]
    yield "two good, one wrong in an array", ORDERS, wrong, j, 422, "2.urgency"
    yield "not JSON", ORDERS, b'{"id": "x",', j, 400, "(body)"
    yield "wrong content type", ORDERS, o(oid("c1")), "text/plain", 415, "(body)"
    yield "no content type", ORDERS, o(oid("c2")), "", 415, "(body)"
    path = EVENTS.format(oid("e"))
    yield "event of another order", path, {**event("e1", "contacted"), "order": oid("other")}, j, 422, "order"
    yield "callback without satisfaction", path, event("e2", "callback", satisfaction=None), j, 422, "satisfaction"
    yield "extension without new limit", path, event("e3", "extended", new_limit=None), j, 422, "new_limit"
    yield "closed without result", path, event("e4", "closed", result=None), j, 422, "result"
    yield "an unknown kind", path, {**event("e5", "contacted"), "kind": "escalated"}, j, 422, "kind"
    yield "an order on the event route", path, {**event("e6", "contacted"), "type": "order"}, j, 422, "type"
    yield "an event in the future", path, event("e7", "contacted", time=ahead(2)), j, 422, "time"
    yield "an array of events", path, [event("e8", "contacted")], j, 422, "(body)"
    yield "a bad order id in the URL", EVENTS.format("bad%20id"), event("e9", "contacted"), j, 422, "order"
    yield "an event as text", path, b"contacted", j, 400, "(body)"


CASES = list(cases())


@pytest.fixture(scope="module")
async def headers(settings) -> dict[str, str]:
    return await auth.integration_headers(settings, f"hostile-{RUN}")


def post(api, path: str, body, content_type: str, headers: dict[str, str]) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body)
    sent = {**headers, "Content-Type": content_type} if content_type else headers
    return requests.post(f"{api.url}{path}", data=data, headers=sent, timeout=30)


def rejected(api, topic: str) -> float:
    """Refusals over HTTP of records for `topic`, every reason together."""
    lines = requests.get(api.worker_metrics_url, timeout=10).text.splitlines()
    mine = (line for line in lines if line.startswith("redwall_events_rejected_total{"))
    return sum(float(line.rsplit(" ", 1)[1]) for line in mine if f'topic="{topic}"' in line and 'via="http"' in line)


async def keys_on_topic(settings) -> set[bytes]:
    return {r.key async for r in read_topic(settings, settings.topic_hotline)}


@pytest.mark.parametrize(("name", "path", "body", "content_type", "status", "field"), CASES, ids=[c[0] for c in CASES])
async def test_each_hostile_body_is_refused_naming_the_field(
    settings, api, headers, name, path, body, content_type, status, field
):
    before = rejected(api, settings.topic_hotline)
    resp = post(api, path, body, content_type, headers)
    assert resp.status_code == status, resp.text[:400]
    assert resp.json()["errors"][0]["field"] == field, resp.text[:400]
    assert rejected(api, settings.topic_hotline) > before
    good = order(oid(f"guard-{uuid.uuid4().hex[:8]}"))
    assert post(api, ORDERS, good, "application/json", headers).status_code == 202  # still serving


async def test_an_oversized_body_is_413(settings, api, headers):
    big = [order(oid(f"big{i}"), content="网" * 4000) for i in range(100)]  # valid, but 1.2 MB
    resp = post(api, ORDERS, big, "application/json", headers)
    assert resp.status_code == 413 and resp.json()["errors"][0]["field"] == "(body)", resp.text[:300]


async def test_nothing_refused_reached_the_topic(settings, api, headers):
    """Every refusal above once more, each followed by a valid guard order (on its own: tests may run in any
    order): none of the refused orders arrived, and every guard did."""
    guards = set()
    for name, path, body, content_type, status, _ in CASES:
        assert post(api, path, body, content_type, headers).status_code == status, name
        guard = order(oid(f"guard-{uuid.uuid4().hex[:8]}"))
        assert post(api, ORDERS, guard, "application/json", headers).status_code == 202, name
        guards.add(guard["id"])

    async def ours() -> set[str]:
        return {k.decode() for k in await keys_on_topic(settings) if k and k.startswith(RUN.encode())}

    async def every_guard() -> set[str] | None:  # a read ends when the broker stays idle: a busy one may pause
        keys = await ours()
        return keys if guards <= keys else None

    keys = await eventually(every_guard, 20) or await ours()
    refused = {oid("e")} | {o["id"] for _, path, body, *_ in CASES if path == ORDERS for o in orders_in(body)}
    assert not keys & refused, sorted(keys & refused)
    assert guards <= keys, sorted(guards - keys)
    assert api.worker.exited is None


def orders_in(body) -> list[dict]:
    items = body if isinstance(body, list) else [body]
    return [o for o in items if isinstance(o, dict) and isinstance(o.get("id"), str)]


def order_fields() -> dict[str, st.SearchStrategy]:
    return {
        "urgency": st.sampled_from(URGENCIES) | st.text(max_size=12),
        "appeal_type": st.sampled_from(APPEAL_TYPES) | json_values,
        "content": hostile_text | st.sampled_from(["回电13912345678", "０１０－87654321 王先生", "138 1234 5678"]),
        "address": hostile_text,
        "contact_masked": st.sampled_from(["138****1234", "010-****5678", "****", "13812341234"])
        | st.text(max_size=25),
        "contact_hash": st.text(alphabet="0123456789abcdefABCDEF", min_size=62, max_size=66),
        "received_at": times,
        "dispatched_at": times,
        "assisting_units": st.lists(hostile_text, max_size=21) | json_values,
    }


async def test_near_valid_orders_are_accepted_exactly_when_valid_and_arrive_masked(settings, api, headers):
    sent: dict[str, dict] = {}
    ahead = timedelta(seconds=settings.ingest_max_future_seconds)

    @hsettings(max_examples=80, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 2**62).flatmap(lambda n: mutated(order(oid(f"hy{n}")), order_fields())))
    def one(value):
        before = datetime.now(UTC)
        resp = post(api, ORDERS, value, "application/json", headers)
        must = verdict(value, before + ahead, datetime.now(UTC) + ahead)
        assert resp.status_code in (202, 413, 422), resp.text[:300]
        assert api.worker.exited is None
        if resp.status_code != 202:
            assert must in (None, "either") and resp.json()["errors"][0]["field"], (value, resp.text[:300])
        else:
            assert must is not None, value
            valid = HotlineOrder.validate({"type": "order", **value})
            sent[valid["id"]] = mask_free_text(valid)[0]

    await asyncio.to_thread(one)
    assert len(sent) > 10, "the strategy made too few valid orders"
    found = {}
    async for record in read_topic(settings, settings.topic_hotline):
        if record.key and record.key.decode() in sent:
            found[record.key.decode()] = json.loads(record.value)
    assert found == sent


def verdict(value, earliest_limit: datetime, latest_limit: datetime) -> str | None:
    """ "accept", None (must be refused), or "either" for a time within the moments the server may have
    judged it: the record's validator and the bound on how far ahead its times may be are the oracle."""
    try:
        valid = HotlineOrder.validate({"type": "order", **value})
    except FieldError:
        return None
    latest = max(strategies.instant(valid[f]) for f in ("received_at", "dispatched_at"))
    return "accept" if latest <= earliest_limit else None if latest > latest_limit else "either"
