"""POST /v1/hotline/orders and /v1/hotline/orders/{id}/events through a real worker and broker: what is
accepted reaches redwall.hotline.v1 keyed by order id, exactly as validated, with phone numbers in free
text masked; only an integration token may post them, and it posts nothing else."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import random
import re
import statistics
import time
import uuid
from pathlib import Path

import pytest
import requests

from schemas import json
from schemas.hotline import HotlineEvent, HotlineOrder
from schemas.phones import mask_phones
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from tests.support import auth, factories
from tests.support.hotline_posts import event, hotline_records, order
from tests.support.topics import own_topics

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hotline(settings, tmp_path_factory):
    """A worker of the module's own, on topics of its own: the settings and its public URL."""
    mine = dataclasses.replace(
        settings,
        web_port=free_port(),
        worker_metrics_port=free_port(),
        **own_topics(settings, f"hl{random.randrange(10**6)}"),
    )
    worker = RedwallProcess("worker", mine, tmp_path_factory.mktemp("hotline")).start()
    try:
        worker.wait_http(f"http://127.0.0.1:{mine.worker_metrics_port}/metrics")
        yield mine, f"http://{mine.web_host}:{mine.web_port}", worker
    finally:
        worker.stop()


def post(url: str, body, headers: dict[str, str]) -> requests.Response:
    return requests.post(
        url, data=json.dumps(body), headers={**headers, "Content-Type": "application/json"}, timeout=30
    )


def masked_count(settings, field: str) -> float:
    text = requests.get(f"http://127.0.0.1:{settings.worker_metrics_port}/metrics", timeout=10).text
    found = re.search(rf'^redwall_hotline_masked_total{{field="{field}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_orders_and_events_reach_the_topic_keyed_by_order_as_validated_with_phones_masked(hotline):
    settings, url, _ = hotline
    headers = await auth.integration_headers(settings)
    run = uuid.uuid4().hex[:8]
    first = order(
        f"{run}-1",
        content="车辆堵住消防通道，请回电13912345678或０１０－87654321",
        address="灵境胡同39号 电话01087654321",
    )
    second = order(f"{run}-2", location=None, platform_grid="g0101")
    before = {f: masked_count(settings, f) for f in ("content", "address", "note", "result")}

    resp = post(f"{url}/v1/hotline/orders", [first, second], headers)
    assert resp.status_code == 202 and resp.json() == {"accepted": [first["id"], second["id"]]}, resp.text
    events = [
        event(f"{run}-e1", "contacted", note="已电话联系 13912345678"),
        {
            **event(f"{run}-e2", "closed", result="已清理，如有问题拨打 010-12345678"),
            "type": "event",
            "order": first["id"],
        },
        event(f"{run}-e3", "callback"),
    ]
    for one in events:
        resp = post(f"{url}/v1/hotline/orders/{first['id']}/events", one, headers)
        assert resp.status_code == 202 and resp.json() == {"accepted": one["id"]}, resp.text

    # Exactly as validated (a null optional field dropped, `type` and the URL's `order` set), and masked.
    expected_first = HotlineOrder.validate(
        {
            "type": "order",
            **first,
            "content": "车辆堵住消防通道，请回电139****5678或０１０－****4321",
            "address": "灵境胡同39号 电话010****4321",
        }
    )
    expected_events = [
        HotlineEvent.validate({"type": "event", **events[0], "order": first["id"], "note": "已电话联系 139****5678"}),
        HotlineEvent.validate({**events[1], "result": "已清理，如有问题拨打 010-****5678"}),
        HotlineEvent.validate({"type": "event", **events[2], "order": first["id"]}),
    ]
    assert await hotline_records(settings, first["id"].encode()) == [expected_first, *expected_events]
    assert await hotline_records(settings, second["id"].encode()) == [
        HotlineOrder.validate({"type": "order", **{k: v for k, v in second.items() if v is not None}})
    ]
    after = {f: masked_count(settings, f) for f in before}
    assert {f: after[f] - before[f] for f in after} == {"content": 2, "address": 1, "note": 1, "result": 1}


async def test_only_an_integration_token_posts_orders_and_it_posts_nothing_else(hotline):
    settings, url, worker = hotline
    run = uuid.uuid4().hex[:8]
    one = order(f"{run}-1")
    tokens = {
        "device": await auth.device_headers(settings, f"{run}-dev"),
        "dispatcher": await auth.dispatcher_headers(settings, f"{run}-street"),
        "none": {},
    }
    for kind, headers in tokens.items():
        for path, body in (
            ("/v1/hotline/orders", one),
            (f"/v1/hotline/orders/{one['id']}/events", event("e", "contacted")),
        ):
            resp = post(f"{url}{path}", body, headers)
            assert resp.status_code == 401, (kind, path, resp.text)
            assert resp.json()["errors"][0]["field"] == "Authorization" and "integration token" in resp.text
    integration = await auth.integration_headers(settings, f"{run}-adapter")
    report = factories.report(random.Random(1), f"{run}-dev")
    resp = post(f"{url}/v1/reports", report, integration)
    assert resp.status_code == 401 and "an integration token: this needs a device token" in resp.text
    resp = post(f"{url}/v1/incidents/inc-c01-0123456789ab/actions", {"action": "ack", "reason": "x"}, integration)
    assert resp.status_code == 401 and resp.json()["errors"][0]["field"] == "Authorization"
    assert await hotline_records(settings, one["id"].encode()) == []
    assert worker.exited is None


def test_the_worked_examples_of_the_integrators_contract_hold():
    """docs/hotline-integration.md: its contact hash example, and its masking examples, are what the code does."""
    doc = (Path(__file__).parents[3] / "docs" / "hotline-integration.md").read_text(encoding="utf-8")
    key, digits, digest = re.search(
        r"key `([^`]+)` \(its UTF-8 bytes\), digits `(\d+)`:\s*`([0-9a-f]{64})`", doc
    ).groups()
    assert hmac.new(key.encode(), digits.encode("ascii"), hashlib.sha256).hexdigest() == digest
    examples = re.findall(r"`([^`]*\d{7,}[^`]*)` → `([^`]+)`", doc)
    assert len(examples) == 3
    for clear, masked in examples:
        assert mask_phones(clear) == (masked, 1)


async def test_how_long_a_post_takes(hotline):
    """Printed, not asserted (pytest -s): from post to 202 for 100 orders at once, and for single events."""
    settings, url, _ = hotline
    headers = await auth.integration_headers(settings, "timing-adapter")
    run, http = uuid.uuid4().hex[:8], requests.Session()
    batches, events = [], []
    for b in range(3):  # a figure to look at, not a benchmark: benchmarks/ holds those
        body = json.dumps([order(f"{run}-{b}-{i}", content=f"第{i}单，回电1391234{i:04d}") for i in range(100)])
        started = time.perf_counter()
        resp = http.post(f"{url}/v1/hotline/orders", data=body, headers={**headers, "Content-Type": "application/json"})
        batches.append(time.perf_counter() - started)
        assert resp.status_code == 202, resp.text[:300]
    for n in range(10):
        started = time.perf_counter()
        resp = post(f"{url}/v1/hotline/orders/{run}-0-{n}/events", event(f"{run}-e{n}", "contacted"), headers)
        events.append(time.perf_counter() - started)
        assert resp.status_code == 202, resp.text[:300]
    print(
        f"\nhotline edge: 100 orders per request: median {statistics.median(batches) * 1000:.0f} ms, "
        f"worst {max(batches) * 1000:.0f} ms ({100 / statistics.median(batches):.0f} orders/s) over {len(batches)}; "
        f"one event: median {statistics.median(events) * 1000:.1f} ms, worst {max(events) * 1000:.1f} ms over {len(events)}"
    )
