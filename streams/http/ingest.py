"""HTTP ingestion for phones: validate at the edge, produce to the input topics, answer 202.

A 202 means the broker has the record: the phone may forget it. Anything refused is answered
with the field and the reason, and nothing of a refused request is produced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust
from aiohttp.web import HTTPRequestEntityTooLarge
from faust.web import Request, Response, View

from schemas import json
from schemas.fields import MAX_ERRORS, FieldError
from schemas.records import FieldReport, Record, ping_batch
from sinks.credentials import Credential
from streams.http.auth import ReplayGuard, authenticate, check_signature, same_device
from streams.http.limits import DeviceRateLimit, EventTimeWindow
from streams.http.refusal import Refused
from streams.metrics import WorkerMetrics
from streams.produce import Out, send_all

MAX_REPORTS_PER_REQUEST = 100


class BodyRefused(Refused):
    """The body as a whole is refused (too large, not JSON): `label` gives the metric its reason."""

    def __init__(self, status: int, reason: str, label: str):
        super().__init__(status, [FieldError("(body)", reason)], labels=[label])


def install(app: faust.App, settings, metrics: WorkerMetrics, credentials) -> None:
    replays = ReplayGuard()
    rate_limit, event_times = DeviceRateLimit.from_settings(settings), EventTimeWindow.from_settings(settings)
    pings_record = ping_batch(settings.max_pings_per_batch)

    class _Ingest(View):
        topic: str

        async def refuse(self, refused: Refused) -> Response:
            for label in refused.reasons():
                metrics.rejected.labels(self.topic, "http", label).inc()
            return refused.answer("invalid input")

        async def admit(self, request: Request) -> tuple[Credential, object]:
            """The authenticated device and its parsed body, within its rate; Refused otherwise. Cheapest
            first: a forged signature or a device over its rate costs no JSON parse."""
            device = await authenticate(credentials, "device", request.headers)
            body = await read_body(request)
            check_signature(credentials, device, request.headers, body, replays)
            rate_limit.check(device.subject)
            return device, parse_json(request.content_type, body)

        async def produce(self, records: list[tuple[bytes, dict]]) -> None:
            # Counted as ingested by the agent that consumes them, once.
            await send_all(app.producer, [Out(self.topic, key, json.dumps(value)) for key, value in records])

    @app.page("/v1/reports")
    class Reports(_Ingest):
        """POST one FieldReport, or an array of up to 100; 202 with their ids."""

        topic = settings.topic_reports

        async def post(self, request: Request) -> Response:
            try:
                device, body = await self.admit(request)
                reports = validate_many(FieldReport, body, MAX_REPORTS_PER_REQUEST, event_times.report_errors)
                same_device(reports, device, indexed=isinstance(body, list))
                event_times.check_reports(reports, indexed=isinstance(body, list))
            except Refused as refused:
                return await self.refuse(refused)
            await self.produce([(r["device"].encode(), r) for r in reports])
            return self.json({"accepted": [r["id"] for r in reports]}, status=202)

    @app.page("/v1/pings")
    class Pings(_Ingest):
        """POST one PingBatch; 202 with the device and how many pings were accepted."""

        topic = settings.topic_pings

        async def post(self, request: Request) -> Response:
            try:
                device, body = await self.admit(request)
                batch = validate_many(pings_record, body, 1, event_times.ping_errors)[0]
                same_device([batch], device, indexed=False)
                event_times.check_pings(batch)
            except Refused as refused:
                return await self.refuse(refused)
            await self.produce([(batch["device"].encode(), batch)])
            return self.json({"device": batch["device"], "accepted": len(batch["pings"])}, status=202)


async def read_json(request: Request):
    return parse_json(request.content_type, await read_body(request))


def parse_json(content_type: str, body: bytes):
    # aiohttp reads a missing Content-Type as application/octet-stream: that is not JSON either.
    if content_type != "application/json":
        raise BodyRefused(415, f"content type must be application/json, got {content_type:.80}", "content_type")
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise BodyRefused(400, f"is not valid JSON: {exc}", "not_json") from None


async def read_body(request: Request) -> bytes:
    """The body, up to the web app's `client_max_size` (REDWALL_MAX_BODY_BYTES), else 413: a declared
    length is judged before a byte is read, and aiohttp stops reading an undeclared one at the limit."""
    limit = request.client_max_size
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit, f"{request.content_length} bytes")
    try:
        return await request.read()
    except HTTPRequestEntityTooLarge:
        raise _too_large(limit, f"over {limit} bytes") from None


def _too_large(limit: int, size: str) -> BodyRefused:
    return BodyRefused(
        413,
        f"is {size}; the limit is {limit} bytes (REDWALL_MAX_BODY_BYTES): send fewer records per request",
        "body_too_large",
    )


def validate_many(
    record: Record, value, limit: int, also: Callable[[Any], list[FieldError]] = lambda item: []
) -> list[dict]:
    """One record, or (when `limit` > 1) an array of them; a refusal names every wrong field. `also`
    finds the errors of checks made after validation (event times) in a refused record, so that one
    refusal lists them too."""
    indexed = isinstance(value, list) and limit > 1
    items = value if indexed else [value]
    if not 1 <= len(items) <= limit:
        raise Refused(422, [FieldError("(body)", f"must hold 1..{limit} records, got {len(items)}")])
    valid, errors = [], []
    for i, item in enumerate(items):
        try:
            valid.append(record.validate(item))
        except FieldError as error:
            found = error.each() + also(item)
            errors += [e.under(str(i)) for e in found] if indexed else found
    if errors:
        raise Refused(422, errors[:MAX_ERRORS])
    return valid
