"""Device and dispatcher authentication against a real `redwall worker` and Postgres: tokens, roles,
and a revocation refused while the worker runs, with no restart."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import random
import re
import statistics
import time
import uuid

import aiohttp
import pytest

from schemas import json
from sinks.credentials import issue_device_token, issue_dispatcher_token, revoke
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from tests.support import factories
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def worker(settings, tmp_path_factory):
    mine = dataclasses.replace(settings, web_port=free_port(), worker_metrics_port=free_port())
    proc = RedwallProcess("worker", mine, tmp_path_factory.mktemp("auth")).start()
    url = f"http://{mine.web_host}:{mine.web_port}"
    try:
        metrics = f"http://127.0.0.1:{mine.worker_metrics_port}/metrics"
        proc.wait_http(metrics)
        yield proc, url, metrics
    finally:
        proc.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(http, url: str, body, token: str | None = None) -> tuple[int, dict]:
    async with http.post(url, json=body, headers=bearer(token) if token else {}) as answer:
        return answer.status, await answer.json()


async def rejected(metrics: str, reason: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(metrics) as answer:
        text = await answer.text()
    counts = re.findall(rf'redwall_events_rejected_total{{[^}}]*reason="{reason}"[^}}]*}} ([0-9.e+]+)', text)
    return sum(float(c) for c in counts)


async def test_a_device_posts_with_its_own_token_and_nothing_else_gets_in(worker, settings):
    _, url, metrics = worker
    rng = random.Random(RUN)
    device, other = f"auth-{RUN}-a", f"auth-{RUN}-b"
    token = await issue_device_token(settings.database_url, device)
    dispatcher = await issue_dispatcher_token(settings.database_url, f"auth-{RUN}-street", "street")
    batch, report = factories.ping_batch(rng, device, 2), factories.report(rng, device)
    async with aiohttp.ClientSession() as http:
        assert (await post(http, f"{url}/v1/pings", batch, token))[0] == 202
        assert (await post(http, f"{url}/v1/reports", [report], token))[0] == 202
        refusals = {
            "missing": await post(http, f"{url}/v1/pings", batch),
            "unknown": await post(http, f"{url}/v1/pings", batch, "not-a-token"),
            "dispatcher": await post(http, f"{url}/v1/reports", report, dispatcher),
            "as another": await post(http, f"{url}/v1/pings", {**batch, "device": other}, token),
            "one of many": await post(
                http, f"{url}/v1/reports", [report, {**report, "id": "x1", "device": other}], token
            ),
        }
    status = {k: (s, body["errors"][0]["field"]) for k, (s, body) in refusals.items()}
    assert status == {
        "missing": (401, "Authorization"),
        "unknown": (401, "Authorization"),
        "dispatcher": (401, "Authorization"),
        "as another": (403, "device"),
        "one of many": (403, "1.device"),
    }
    assert "missing" in refusals["missing"][1]["errors"][0]["reason"]
    assert "unknown token" in refusals["unknown"][1]["errors"][0]["reason"]
    assert "only as itself" in refusals["as another"][1]["errors"][0]["reason"]
    for reason in ("auth_missing", "auth_unknown", "auth_kind", "device_mismatch"):
        assert await rejected(metrics, reason) >= 1, reason


async def test_a_revoked_device_is_refused_at_once_without_a_restart(worker, settings, pg):
    """Measured while 30 other devices keep posting (about 50 requests a second): they are never refused."""
    proc, url, metrics = worker
    rng, seconds, load, stop = random.Random(RUN), [], [], asyncio.Event()
    others = {f"auth-{RUN}-load{n}": await issue_device_token(pg, f"auth-{RUN}-load{n}") for n in range(30)}
    async with aiohttp.ClientSession() as http:

        async def keep_posting(device: str, token: str) -> None:
            while not stop.is_set():
                load.append((await post(http, f"{url}/v1/pings", factories.ping_batch(rng, device, 5), token))[0])
                await asyncio.sleep(0.6)  # steady load, not a flood

        posting = [asyncio.create_task(keep_posting(d, t)) for d, t in others.items()]
        await asyncio.sleep(1)
        for n in range(5):
            await asyncio.sleep(0.4)
            device = f"auth-{RUN}-rev{n}"
            token = await issue_device_token(pg, device)
            batch = factories.ping_batch(rng, device, 1)
            assert (await post(http, f"{url}/v1/pings", batch, token))[0] == 202
            await revoke(pg, "device", device)
            revoked_at = time.monotonic()  # the revoking transaction has committed
            while (answer := await post(http, f"{url}/v1/pings", batch, token))[0] == 202:
                assert time.monotonic() - revoked_at < 5, "still accepted 5 s after the revocation"
            seconds.append(time.monotonic() - revoked_at)
            assert answer[0] == 401 and "revoked" in answer[1]["errors"][0]["reason"]
        stop.set()
        await asyncio.gather(*posting)
    print(
        f"\nrevocation -> refusal by the running worker: median {statistics.median(seconds) * 1000:.1f} ms, "
        f"max {max(seconds) * 1000:.1f} ms over {len(seconds)} revocations, while {len(others)} other devices "
        f"posted {len(load)} requests"
    )
    assert set(load) == {202}
    assert proc.exited is None and await rejected(metrics, "auth_revoked") >= 5


async def test_the_actions_api_checks_the_dispatchers_role(worker, settings):
    proc, url, metrics = worker
    db = settings.database_url
    street = await issue_dispatcher_token(db, f"auth-{RUN}-street", "street")
    c01 = await issue_dispatcher_token(db, f"auth-{RUN}-c01", "community", "c01")
    read = await issue_dispatcher_token(db, f"auth-{RUN}-read", "read")
    device = await issue_device_token(db, f"auth-{RUN}-phone")
    mine, theirs = "inc-c01-00000000a11c", "inc-c02-00000000a11c"
    ack = {"action": "ack", "reason": "auth test"}
    actions = lambda incident: f"{url}/v1/incidents/{incident}/actions"  # noqa: E731
    async with aiohttp.ClientSession() as http:

        async def engine_answers():  # until the worker has joined its group, an action outwaits its verdict (202)
            return (await post(http, actions(theirs), ack, street))[0] != 202

        assert await eventually(engine_answers, 60)
        answers = {
            "street on c02": await post(http, actions(theirs), ack, street),
            "c01 on c01": await post(http, actions(mine), ack, c01),
            "c01 on c02": await post(http, actions(theirs), ack, c01),
            "read": await post(http, actions(mine), ack, read),
            "device": await post(http, actions(mine), ack, device),
            "none": await post(http, actions(mine), ack),
            "as someone else": await post(http, actions(mine), {**ack, "actor": "boss"}, c01),
        }
    # Let through, the action reaches the engine, which knows no such incident: 404 naming it.
    assert {k: s for k, (s, _) in answers.items()} == {
        "street on c02": 404,
        "c01 on c01": 404,
        "c01 on c02": 403,
        "read": 403,
        "device": 401,
        "none": 401,
        "as someone else": 403,
    }
    assert answers["c01 on c01"][1]["errors"][0]["field"] == "incident"
    assert "找不到事件 inc-c01-00000000a11c" in answers["c01 on c01"][1]["errors"][0]["reason"]
    refused = answers["c01 on c02"][1]["errors"][0]
    assert refused["field"] == "incident" and "c01" in refused["reason"] and "c02" in refused["reason"]
    assert answers["as someone else"][1]["errors"][0]["field"] == "actor"
    await asyncio.sleep(0.2)  # the log line is written by another process
    log = proc.log_path.read_text()
    assert f"action refused: dispatcher=auth-{RUN}-c01 role=community incident={theirs}" in log
    assert f"action refused: dispatcher=auth-{RUN}-read role=read incident={mine}" in log
    assert await rejected(metrics, "role") >= 2


async def test_a_signed_request_needs_no_token_on_the_wire_and_is_accepted_once(worker, settings):
    _, url, metrics = worker
    device = f"auth-{RUN}-signer"
    token = await issue_device_token(settings.database_url, device)
    body = json.dumps(factories.ping_batch(random.Random(RUN), device, 2))

    def signed(stamp: int, payload: bytes = body) -> dict[str, str]:
        key = hashlib.sha256(token.encode()).digest()  # what the store holds: the token never travels
        mac = hmac.new(key, f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-Redwall-Device": device,
            "X-Redwall-Timestamp": str(stamp),
            "X-Redwall-Signature": f"sha256={mac}",
        }

    now = int(time.time())
    async with aiohttp.ClientSession() as http:
        answers = []
        for headers in (signed(now), signed(now), signed(now - 3600), signed(now + 1, body + b" ")):
            async with http.post(f"{url}/v1/pings", data=body, headers=headers) as answer:
                answers.append((answer.status, (await answer.json()).get("errors", [{}])[0].get("field")))
    assert answers == [
        (202, None),
        (401, "X-Redwall-Signature"),
        (401, "X-Redwall-Timestamp"),
        (401, "X-Redwall-Signature"),
    ]
    assert await rejected(metrics, "signature_replayed") >= 1 and await rejected(metrics, "signature_stale") >= 1
