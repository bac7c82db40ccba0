"""Hypothesis-generated bodies against POST /v1/reports and /v1/pings on a real worker: never a 5xx,
never a crash, every refusal names a field, and every accepted record (and the valid ones sent between
the hostile ones) reaches Postgres."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import jsonschema
import pytest
import requests
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from schemas.records import FieldReport, ping_batch
from sinks.partitions import Window
from tests.hostile import strategies
from tests.hostile.strategies import encode
from tests.support import auth, factories
from tests.support.rows import wait_for

pytestmark = pytest.mark.integration

EXAMPLES = 60
CONTENT_TYPES = ["application/json", "application/json", "text/plain", "application/xml", "multipart/form-data", ""]
FUZZ = hsettings(
    max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def bodies(near_valid: st.SearchStrategy[dict]) -> st.SearchStrategy[tuple[bytes, str]]:
    """(body, content type): near-valid records alone or in arrays, arbitrary JSON, and arbitrary bytes."""
    return st.one_of(
        near_valid.map(encode),
        near_valid.map(encode),
        st.lists(near_valid, max_size=4).map(encode),
        strategies.raw(near_valid),
    ).flatmap(lambda body: st.tuples(st.just(body), st.sampled_from(CONTENT_TYPES)))


class Client:
    """Posts to one worker and checks every answer; remembers what was accepted."""

    def __init__(self, api, path: str, headers: dict[str, str]):
        self.api, self.url, self.headers = api, f"{api.url}{path}", headers
        self.http = requests.Session()
        self.accepted: list[dict] = []
        self.refused: dict[int, int] = {}

    def post(self, body: bytes, content_type: str = "application/json") -> requests.Response:
        headers = {**self.headers, "Content-Type": content_type} if content_type else self.headers
        resp = self.http.post(self.url, data=body, headers=headers, timeout=30)
        assert resp.status_code < 500, f"{resp.status_code} for {body[:300]!r}: {resp.text[:300]}"
        assert self.api.worker.exited is None, self.api.worker.log_tail()
        if resp.status_code != 202:
            assert 400 <= resp.status_code < 500, resp.status_code
            first = resp.json()["errors"][0]
            assert first["field"] and first["reason"], resp.text
            self.refused[resp.status_code] = self.refused.get(resp.status_code, 0) + 1
        return resp


def fuzz(client: Client, strategy, guard) -> None:
    """Each hostile body, then a valid one (`guard()`), which must be accepted."""

    @FUZZ
    @given(strategy)
    def post(case):
        body, content_type = case
        resp = client.post(body, content_type)
        if resp.status_code == 202:
            client.accepted.append({"body": body, "answer": resp.json()})
        valid = encode(guard())
        resp = client.post(valid)
        assert resp.status_code == 202
        client.accepted.append({"body": valid, "answer": resp.json()})

    post()


async def test_hypothesis_reports_never_5xx_and_accepted_ones_arrive(settings, api, pg):
    rng = random.Random(71)
    run, device = f"hr{rng.randrange(10**6)}", f"hr{rng.randrange(10**6)}-dev"
    client = Client(api, "/v1/reports", await auth.device_headers(settings, device))
    await asyncio.to_thread(
        fuzz,
        client,
        bodies(strategies.reports(run, device)),
        lambda: factories.report(rng, device, event_time=strategies.now()),
    )
    schema = FieldReport.json_schema()
    ids = set()
    for sent in client.accepted:
        value = strategies.stdjson.loads(sent["body"])
        reports = value if isinstance(value, list) else [value]
        for report in reports:
            jsonschema.validate(report, schema)  # the published contract agrees with what was accepted
            ids.add(report["id"])
        assert sent["answer"] == {"accepted": [r["id"] for r in reports]}
    assert client.refused and len(ids) > EXAMPLES  # the strategy hit both sides
    count = await wait_for(pg, "SELECT count(*) FROM reports WHERE device_id = $1", [device], len(ids))
    stored = {r["id"] for r in await pg.fetch("SELECT id FROM reports WHERE device_id = $1", device)}
    assert stored == ids, f"{count} of {len(ids)} stored; missing {sorted(ids - stored)[:5]}"


async def test_hypothesis_pings_never_5xx_and_accepted_ones_arrive(settings, api, pg):
    rng = random.Random(72)
    device = f"hp{rng.randrange(10**6)}-dev"
    record = ping_batch(settings.max_pings_per_batch)
    client = Client(api, "/v1/pings", await auth.device_headers(settings, device))
    await asyncio.to_thread(fuzz, client, bodies(strategies.ping_batches(device)), lambda: guard_batch(rng, device))
    fixes = set()
    # The position history keeps only the days of its retention window (sinks/partitions.py).
    window = Window.at(datetime.now(UTC), settings.position_retention_days, settings.position_days_ahead)
    for sent in client.accepted:
        batch = record.validate(strategies.stdjson.loads(sent["body"]))
        jsonschema.validate(batch, record.json_schema())
        assert sent["answer"] == {"device": device, "accepted": len(batch["pings"])}
        fixes.update(
            t
            for t in map(strategies.instant, (p["time"] for p in batch["pings"]))
            if window.first <= t.date() <= window.last
        )
    assert client.refused
    await wait_for(pg, "SELECT count(*) FROM positions WHERE device_id = $1", [device], len(fixes))
    stored = {r["event_time"] for r in await pg.fetch("SELECT event_time FROM positions WHERE device_id = $1", device)}
    assert stored == fixes, f"missing {sorted(fixes - stored)[:5]}; unexpected {sorted(stored - fixes)[:5]}"


def guard_batch(rng: random.Random, device: str) -> dict:
    """Two valid fixes taken now."""
    batch = factories.ping_batch(rng, device, 2)
    for ping in batch["pings"]:
        ping["time"] = strategies.now()
    return batch


PATHS = [
    "/v1/reports",
    "/v1/pings",
    "/v1/incidents/inc-c01-0123456789ab/actions",
    "/v1/hotline/orders",
    "/v1/hotline/orders/o-1/events",
]


async def headers_for(settings, path: str, device: str) -> dict[str, str]:
    """The credential each route takes: a dispatcher's for actions, the adapter's for 12345 orders, else a device's."""
    if "actions" in path:
        return await auth.dispatcher_headers(settings)
    return await (auth.integration_headers(settings) if "hotline" in path else auth.device_headers(settings, device))


@pytest.mark.parametrize("path", PATHS)
async def test_oversized_bodies_are_refused_not_crashed_on(settings, api, path):
    """Past REDWALL_MAX_BODY_BYTES, declared or streamed without a length: 413 naming the body."""
    headers = await headers_for(settings, path, "big-dev")
    big = b'{"text": "' + "網".encode() * (settings.max_body_bytes // 3 + 1000) + b'"}'

    def chunks():
        yield big

    http = requests.Session()
    for data in (big, chunks()):
        resp = http.post(
            f"{api.url}{path}", data=data, headers={**headers, "Content-Type": "application/json"}, timeout=30
        )
        assert resp.status_code == 413 and resp.json()["errors"][0]["field"] == "(body)", resp.text[:200]
    assert api.worker.exited is None


CLASSICS = [
    b"[" * 100_000 + b"]" * 100_000,  # nesting past any parser's recursion limit
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b"1e999",
    b"-0",
    b"NaN",
    b"Infinity",
    b"null",
    b"true",
    b'""',
    b"[]",
    b"[[]]",
    b"{}",
    "\ufeff{}".encode(),  # a byte-order mark
    '{"text": "x"}'.encode("utf-16"),
    b'{"device": "\\ud800"}',  # a lone surrogate, escaped
    b'{"device": "\xed\xa0\x80"}',  # ... and raw
    b'{"device": "a", "device": "b"}',
    b'{"id": "x"' + b', "k": 1' * 20_000 + b"}",
    b"\x00" * 64,
]


@pytest.mark.parametrize("path", PATHS)
async def test_classic_hostile_bodies_get_a_4xx(settings, api, path):
    headers = await headers_for(settings, path, "classic")
    client = Client(api, path, headers)
    for body in CLASSICS:
        assert client.post(body).status_code != 202, body[:60]
