"""Limits on what comes in, against a real worker: body size (413), pings per batch (422), per-device rate
(429 with Retry-After), event times near now (422); each refusal counted by reason, nothing produced."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from schemas import json
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.topics import read_topic
from tests.support import factories
from tests.support.auth import device_headers
from tests.support.promtool import promtool
from tests.support.topics import own_topics

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def limited(settings, tmp_path_factory):
    """A worker with small limits and input topics of its own, so what it produced can be read whole."""
    topics = own_topics(settings, f"limits-{RUN}")
    mine = dataclasses.replace(
        settings,
        web_port=free_port(),
        worker_metrics_port=free_port(),
        device_rate_per_second=1.0,
        device_burst=3,
        max_pings_per_batch=5,
        ingest_max_age_days=30,
        **topics,
    )
    worker = RedwallProcess("worker", mine, tmp_path_factory.mktemp("limits")).start()
    try:
        worker.wait_http(metrics_url(mine))
        worker.wait_http(url(mine, "/openapi.json"))  # the public port comes up after the ops listener
        yield mine
    finally:
        worker.stop()


def url(settings, path: str) -> str:
    return f"http://{settings.web_host}:{settings.web_port}{path}"


def metrics_url(settings) -> str:
    return f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"


def fresh_batch(device: str, n: int, start: datetime | None = None) -> dict:
    start = start or datetime.now(UTC)
    return {
        "device": device,
        "pings": [
            {"lat": 39.91, "lng": 116.37, "accuracy": 5.0, "time": (start + timedelta(seconds=i)).isoformat()}
            for i in range(n)
        ],
    }


async def post(http, settings, path: str, body, auth, **extra):
    data = body if isinstance(body, (bytes, str)) or hasattr(body, "__aiter__") else json.dumps(body)
    async with http.post(
        url(settings, path), data=data, headers={"Content-Type": "application/json", **auth}, **extra
    ) as answer:
        return answer.status, answer.headers, await answer.json()


async def rejected(settings) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(metrics_url(settings)) as answer:
        text = await answer.text()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("redwall_events_rejected_total{") and 'via="http"' in line:
            reason = line.split('reason="', 1)[1].split('"', 1)[0]
            counts[reason] = counts.get(reason, 0) + float(line.rsplit(" ", 1)[1])
    return counts


async def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(limited):
    auth = await device_headers(limited, f"{RUN}-big")
    big = json.dumps(fresh_batch(f"{RUN}-big", 1)) + b" " * limited.max_body_bytes

    async def chunks():  # no Content-Length: aiohttp must stop reading at the limit
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    async with aiohttp.ClientSession() as http:
        for body in (big, chunks()):
            status, _, answer = await post(http, limited, "/v1/pings", body, auth)
            assert status == 413
            assert answer["errors"][0]["field"] == "(body)"
            assert (
                f"the limit is {limited.max_body_bytes} bytes (REDWALL_MAX_BODY_BYTES)" in answer["errors"][0]["reason"]
            )
    assert (await rejected(limited)).get("body_too_large") == 2


async def test_more_pings_than_a_batch_may_carry_is_a_422_naming_pings(limited):
    device = f"{RUN}-many"
    async with aiohttp.ClientSession() as http:
        status, _, answer = await post(
            http, limited, "/v1/pings", fresh_batch(device, 6), await device_headers(limited, device)
        )
    assert status == 422
    assert answer["errors"] == [{"field": "pings", "reason": "must hold 1..5 items, got 6"}]


async def test_a_device_over_its_rate_gets_429_and_nothing_of_it_is_produced(limited):
    device, other = f"{RUN}-fast", f"{RUN}-calm"
    auth, other_auth = await device_headers(limited, device), await device_headers(limited, other)
    start = datetime.now(UTC)
    batches = [fresh_batch(device, 2, start + timedelta(seconds=10 * k)) for k in range(5)]
    async with aiohttp.ClientSession() as http:
        answers = [await post(http, limited, "/v1/pings", b, auth) for b in batches[:4]]
        assert [a[0] for a in answers] == [202, 202, 202, 429]  # a burst of 3, then the rate (1/s)
        status, answer_headers, answer = answers[3]
        assert answer_headers["Retry-After"] == "1"
        assert answer["device"] == device
        assert answer["limit"] == {"requests_per_second": 1.0, "burst": 3}
        assert answer["errors"][0]["field"] == "device" and device in answer["errors"][0]["reason"]
        assert (await post(http, limited, "/v1/pings", fresh_batch(other, 1), other_auth))[0] == 202
        await asyncio.sleep(float(answer_headers["Retry-After"]))
        assert (await post(http, limited, "/v1/pings", batches[4], auth))[0] == 202
    produced = [json.loads(r.value) async for r in read_topic(limited, limited.topic_pings) if r.key == device.encode()]
    assert sorted(b["pings"][0]["time"] for b in produced) == sorted(
        b["pings"][0]["time"] for b in batches[:3] + batches[4:]
    )  # the refused batch never reached Kafka
    assert (await rejected(limited)).get("rate_limited") == 1


async def test_event_times_far_from_now_are_refused(limited):
    device = f"{RUN}-clock"
    auth = await device_headers(limited, device)
    future = fresh_batch(device, 2, datetime.now(UTC) + timedelta(hours=2))
    old = factories.report(random.Random(1), device, event_time=(datetime.now(UTC) - timedelta(days=40)).isoformat())
    async with aiohttp.ClientSession() as http:
        status, _, answer = await post(http, limited, "/v1/pings", future, auth)
        assert status == 422 and answer["errors"][0]["field"] == "pings.0.time"
        assert "ahead of the server's time" in answer["errors"][0]["reason"]
        status, _, answer = await post(http, limited, "/v1/reports", [old], auth)
        assert status == 422 and answer["errors"][0]["field"] == "0.event_time"
    counts = await rejected(limited)
    assert counts.get("pings.*.time") == 1 and counts.get("*.event_time") == 1


async def test_one_refusal_names_every_wrong_field_and_counts_each_field_once(limited):
    device = f"{RUN}-sloppy"
    auth = await device_headers(limited, device)
    batch = fresh_batch(device, 5)
    batch["pings"][0]["lat"], batch["pings"][1]["lat"] = 91, -91
    del batch["pings"][2]["accuracy"]
    batch["pings"][3]["time"] = (datetime.now(UTC) + timedelta(hours=2)).isoformat()  # well formed, too late
    before = await rejected(limited)
    async with aiohttp.ClientSession() as http:
        status, _, answer = await post(http, limited, "/v1/pings", batch, auth)
    assert status == 422
    assert [e["field"] for e in answer["errors"]] == ["pings.0.lat", "pings.1.lat", "pings.2.accuracy", "pings.3.time"]
    after = await rejected(limited)
    assert {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)} == {
        "pings.*.lat": 1,
        "pings.*.accuracy": 1,
        "pings.*.time": 1,
    }


async def test_every_refusal_is_counted_by_a_bounded_reason_and_promtool_accepts_the_metrics(limited):
    # A device each: every request counts against its device's rate (burst 3), whatever is wrong with it.
    devices = [f"{RUN}-odd{i}" for i in range(5)]
    auth = {d: await device_headers(limited, d) for d in devices}
    async with aiohttp.ClientSession() as http:
        # Only JSON is JSON: text/plain and no type at all (read as application/octet-stream) are 415 too.
        for content_type in ("application/xml", "text/plain", "application/octet-stream"):
            status, _, answer = await post(
                http,
                limited,
                "/v1/pings",
                json.dumps(fresh_batch(devices[0], 1)),
                {**auth[devices[0]], "Content-Type": content_type},
            )
            assert status == 415 and answer["errors"][0]["field"] == "(body)", content_type
        assert (await post(http, limited, "/v1/pings", b"{not json", auth[devices[1]]))[0] == 400
        for device, key in zip(devices[2:], ("x-1", "'; DROP TABLE positions; --", "\u7f51\u683c" * 30)):
            # unknown keys: the sender's own text
            assert (await post(http, limited, "/v1/pings", {**fresh_batch(device, 1), key: 1}, auth[device]))[0] == 422
    counts = await rejected(limited)
    assert counts.get("content_type") == 3 and counts.get("not_json") == 1 and counts.get("(unknown)") == 3
    async with aiohttp.ClientSession() as http, http.get(metrics_url(limited)) as answer:
        exposition = await answer.read()
    result = promtool("check", "metrics", stdin=exposition)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
