"""HTTP for the 12345 adapter: POST /v1/hotline/orders and POST /v1/hotline/orders/{order}/events.

An `integration` credential only (`redwall integrations add NAME`). The edge validates, masks any phone
number left in clear in free text (schemas/phones.py), produces to redwall.hotline.v1 keyed by order
id, and answers 202 once the broker has the records. A refusal names the field; nothing of it is kept.
The contract for integrators: docs/hotline-integration.md.
"""

from __future__ import annotations

import faust
from faust.web import Request, Response, View
from prometheus_client import Counter

from schemas import json
from schemas.fields import MAX_ERRORS, FieldError, Time
from schemas.hotline import HotlineEvent, HotlineOrder, check_event
from schemas.openapi import MAX_ORDERS_PER_REQUEST
from schemas.phones import mask_free_text
from streams.credentials import CredentialCache
from streams.http.auth import authenticate
from streams.http.ingest import parse_json, read_body, validate_many
from streams.http.limits import EventTimeWindow
from streams.http.refusal import Refused
from streams.metrics import WorkerMetrics
from streams.produce import Out, send_all

ORDER_TIMES, EVENT_TIMES = ("received_at", "dispatched_at"), ("time",)
# Only the future is bounded: an adapter catching up after an outage posts orders received long ago.
NO_AGE_LIMIT_DAYS = 36_500
_TIME = Time()


class FutureTimes:
    """The named times of a record no further ahead than REDWALL_INGEST_MAX_FUTURE_SECONDS: a clock
    that far ahead is broken, and an order dispatched in the future would start its clocks late."""

    def __init__(self, max_future_seconds: float, fields: tuple[str, ...]):
        self.window, self.fields = EventTimeWindow(max_future_seconds, NO_AGE_LIMIT_DAYS), fields

    def errors(self, record) -> list[FieldError]:
        """The valid times of `record` (validated or not) that lie too far ahead, each naming its field."""
        if type(record) is not dict:
            return []
        named = [(f, record[f]) for f in self.fields if f in record and not _TIME.errors(record[f])]
        return self.window.outside(enumerate(text for _, text in named), lambda i: named[i][0])

    def check(self, records: list[dict], indexed: bool) -> None:
        errors = [e.under(str(i)) if indexed else e for i, r in enumerate(records) for e in self.errors(r)]
        if errors:
            raise Refused(422, errors[:MAX_ERRORS])


def install(app: faust.App, settings, metrics: WorkerMetrics, credentials: CredentialCache) -> None:
    masked = Counter(
        "redwall_hotline_masked_total",
        "Phone numbers found in clear in the free text of posted 12345 orders and events, masked before Kafka",
        ["field"],
        registry=metrics.registry,
    )
    order_times = FutureTimes(settings.ingest_max_future_seconds, ORDER_TIMES)
    event_times = FutureTimes(settings.ingest_max_future_seconds, EVENT_TIMES)
    topic = settings.topic_hotline

    class _Hotline(View):
        async def admit(self, request: Request):
            """The parsed body of a request an integration credential makes; Refused otherwise."""
            await authenticate(credentials, "integration", request.headers)
            return parse_json(request.content_type, await read_body(request))

        def refuse(self, refused: Refused) -> Response:
            for label in refused.reasons():
                metrics.rejected.labels(topic, "http", label).inc()
            return refused.answer("invalid input")

        async def produce(self, records: list[dict]) -> None:
            out = []
            for record in records:
                record, counts = mask_free_text(record)
                for field, n in counts.items():
                    masked.labels(field).inc(n)
                key = record["order"] if record["type"] == "event" else record["id"]
                out.append(Out(topic, key.encode(), json.dumps(record)))
            await send_all(app.producer, out)

    @app.page("/v1/hotline/orders")
    class HotlineOrders(_Hotline):
        """POST one HotlineOrder, or an array of up to 100; 202 with their ids."""

        async def post(self, request: Request) -> Response:
            try:
                body = await self.admit(request)
                orders = validate_many(HotlineOrder, typed(body, "order"), MAX_ORDERS_PER_REQUEST, order_times.errors)
                order_times.check(orders, indexed=isinstance(body, list))
            except Refused as refused:
                return self.refuse(refused)
            await self.produce(orders)
            return self.json({"accepted": [o["id"] for o in orders]}, status=202)

    @app.page("/v1/hotline/orders/{order}/events")
    class HotlineOrderEvents(_Hotline):
        """POST one HotlineEvent of the order in the URL; 202 with its id."""

        async def post(self, request: Request, order: str) -> Response:
            try:
                event = parse_event(order, await self.admit(request), event_times)
            except Refused as refused:
                return self.refuse(refused)
            await self.produce([event])
            return self.json({"accepted": event["id"]}, status=202)


def typed(body, kind: str):
    """The body with `type` set to the route's `kind` where the client left it out (one level only:
    anything deeper is refused by validation anyway)."""

    def one(item):
        return {"type": kind, **item} if type(item) is dict else item

    return [one(item) for item in body] if isinstance(body, list) else one(body)


def parse_event(order: str, body, times: FutureTimes) -> dict:
    """The event a request posts for `order`: validated, with the fields its kind needs; Refused naming
    every wrong field otherwise."""
    if type(body) is not dict:
        raise Refused(422, [FieldError("(body)", "must be a JSON object: one event")])
    if body.get("order", order) != order:
        reason = f"is {body['order']!r:.80}, but the URL is of order {order!r:.80}: leave it out, or send the same id"
        raise Refused(422, [FieldError("order", reason)])
    event = validate_many(HotlineEvent, typed({**body, "order": order}, "event"), 1, times.errors)[0]
    times.check([event], indexed=False)
    try:
        return check_event(event)
    except FieldError as error:
        raise Refused(422, [error]) from None
