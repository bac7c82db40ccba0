"""A webhook endpoint down for two minutes: its alerts are retried and delivered when it returns, or
dead-lettered after the configured attempts, and the healthy channel is not held up meanwhile."""

from __future__ import annotations

import asyncio
import base64
import collections

import pytest

from schemas import json
from tests.faults.webhook_outage import ALERTS, ATTEMPTS, OUTAGE

pytestmark = pytest.mark.integration

PROMPT_SECONDS = 3.0  # the healthy channel's publish-to-endpoint time, whatever the other endpoint does


async def test_webhook_down_for_two_minutes(webhook_outage):
    out = await asyncio.to_thread(webhook_outage.result, OUTAGE + 2 * 60)
    ids = set(out.published)
    assert len(ids) == ALERTS

    healthy = collections.defaultdict(list)
    for alert_id, arrived in out.healthy:
        healthy[alert_id].append(arrived)
    assert set(healthy) == ids and all(len(t) == 1 for t in healthy.values()), dict(healthy)
    waits = {i: healthy[i][0] - out.published[i] for i in ids}
    assert max(waits.values()) < PROMPT_SECONDS, f"the healthy channel was held up: {waits}"

    # The patient channel: each alert either reached the endpoint once it returned, or was dead-lettered
    # after every attempt the channel allows; never both, never neither.
    rows = [r for r in out.deliveries if r["channel"] == "patient"]
    delivered = {r["alert_id"] for r in rows if r["outcome"] == "delivered"}
    dead = {r["alert_id"] for r in rows if r["outcome"] == "dead_lettered"}
    assert delivered | dead == ids and not delivered & dead, f"delivered {delivered}, dead-lettered {dead}"
    assert delivered, "no alert outlived the outage: the last one was published 10 s before the endpoint returned"
    patient = collections.Counter(i for i, _ in out.patient)
    assert patient == {i: 1 for i in delivered}, f"what the returned endpoint took: {patient}"
    tries = collections.Counter(r["alert_id"] for r in rows if r["outcome"] not in ("delivered", "dead_lettered"))
    assert all(tries[i] == ATTEMPTS["patient"] for i in dead), f"attempts before the dead letter: {tries}"
    late = max(t for _, t in out.patient) - out.returned_at

    impatient = [r for r in out.deliveries if r["channel"] == "impatient"]
    failed = collections.Counter(r["alert_id"] for r in impatient if r["outcome"] != "dead_lettered")
    assert failed == {i: ATTEMPTS["impatient"] for i in ids}, f"attempts before the dead letter: {failed}"
    assert {r["alert_id"] for r in impatient if r["outcome"] == "dead_lettered"} == ids
    for channel, expected in (("impatient", ids), ("patient", dead)):
        letters = {
            json.loads(base64.b64decode(d["value_b64"]))["id"]: d
            for d in out.letters
            if base64.b64decode(d["key_b64"]) == channel.encode()
        }
        assert set(letters) == expected, f"{channel}: dead letters {sorted(letters)}"
        assert all(
            f"after {ATTEMPTS[channel]} attempts" in d["reason"] and len(d["errors"]) == ATTEMPTS[channel]
            for d in letters.values()
        )
    print(
        f"\nwebhook outage: endpoint down {out.returned_at - min(out.published.values()):.0f} s; healthy channel "
        f"took each of {ALERTS} alerts within {max(waits.values()):.2f} s; the {ATTEMPTS['patient']}-attempt channel "
        f"delivered {len(delivered)} once each after the endpoint returned (the last {late:.1f} s after; "
        f"{min(tries[i] for i in delivered)}-{max(tries[i] for i in delivered)} failed attempts each before) and "
        f"dead-lettered {len(dead)}; the 3-attempt channel dead-lettered all {ALERTS}"
    )
