"""POST /v1/incidents/{id}/actions against a real worker: the answer is the engine's verdict (200 with the
transition, 409 with the engine's reason, 404 for an incident it does not know), and 202 only when the
verdict does not come in time. `pytest -s` prints how long a verdict takes."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
import uuid
from datetime import UTC, datetime

import aiohttp
import pytest

from schemas import json
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.escalation.engine import incident_id
from streams.topics import ensure_topics, read_topic
from tests.support.auth import device_headers, dispatcher_headers
from tests.support.incident_factories import PLAIN, registry
from tests.support.topics import own_topics
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]


@dataclasses.dataclass
class Worker:
    process: RedwallProcess
    settings: object
    url: str
    metrics_url: str

    async def serving(self) -> None:
        """Until both ports answer: the public one comes up after the ops listener."""
        await asyncio.to_thread(self.process.wait_http, self.metrics_url)
        await asyncio.to_thread(self.process.wait_http, f"{self.url}/openapi.json")


@pytest.fixture(scope="module")
async def worker(settings, tmp_path_factory):
    """A worker of its own (topics too: its engine sees only this module's incidents), on wall time."""
    mine = dataclasses.replace(
        settings, web_port=free_port(), worker_metrics_port=free_port(), **own_topics(settings, f"act{RUN}")
    )
    await ensure_topics(mine)
    process = RedwallProcess("worker", mine, tmp_path_factory.mktemp("actions")).start()
    w = Worker(
        process, mine, f"http://{mine.web_host}:{mine.web_port}", f"http://127.0.0.1:{mine.worker_metrics_port}/metrics"
    )
    try:
        await w.serving()
        yield w
    finally:
        process.stop()


async def open_incident(http, worker: Worker, report_id: str) -> str:
    """A report filed over HTTP; the incident it opens, once the engine holds it."""
    device = f"{RUN}-phone"
    report = {
        "id": report_id,
        "device": device,
        "category": "sanitation",
        "severity": "medium",
        "text": "满溢",
        "location": {"lat": PLAIN[0], "lng": PLAIN[1], "accuracy": 5.0},
        "event_time": datetime.now(UTC).isoformat(),
    }
    async with http.post(
        f"{worker.url}/v1/reports", json=report, headers=await device_headers(worker.settings, device)
    ) as answer:
        assert answer.status == 202, await answer.text()
    return incident_id(registry().locate(*PLAIN).community, report_id)


async def act(http, worker: Worker, incident: str, body: dict) -> tuple[int, dict, float]:
    started = time.perf_counter()
    async with http.post(f"{worker.url}/v1/incidents/{incident}/actions", json=body) as answer:
        return answer.status, await answer.json(), time.perf_counter() - started


async def opened(worker: Worker, incident: str) -> None:
    """Until the engine has opened the incident (two Kafka hops, and a worker that may still be joining its
    group), an action on it would be unknown (404) or wait past the verdict's time (202)."""

    async def seen():
        events = [json.loads(r.value) async for r in read_topic(worker.settings, worker.settings.topic_incidents, 0.5)]
        return any(e["incident"] == incident and e["kind"] == "opened" for e in events)

    assert await eventually(seen, 60), f"{incident} was never opened"


async def test_an_action_is_answered_with_the_engines_verdict(worker):
    street = await dispatcher_headers(worker.settings, f"{RUN}-zhao")
    async with aiohttp.ClientSession(headers=street) as http:
        incident = await open_incident(http, worker, f"{RUN}-r1")
        await opened(worker, incident)
        status, body, _ = await act(http, worker, incident, {"action": "ack", "reason": "on my way"})
        assert status == 200 and body["verdict"] == "acknowledged" and body["incident"] == incident
        assert body["event"]["action"] == body["action"] and body["event"]["actor"] == f"{RUN}-zhao"
        assert body["event"]["state"]["status"] == "acknowledged"
        timed = []
        answers = {}
        for name, request in [
            ("ack again", {"action": "ack", "reason": "twice"}),
            ("resolve", {"id": f"{RUN}-resolve", "action": "resolve", "reason": "bins emptied"}),
            ("resolve again", {"action": "resolve", "reason": "twice"}),
        ]:
            status, body, seconds = await act(http, worker, incident, request)
            answers[name] = (status, body)
            timed.append(seconds)
        unknown = f"inc-c03-{'0' * 12}"
        status, body, seconds = await act(http, worker, unknown, {"action": "ack", "reason": "who?"})
        answers["unknown incident"] = (status, body)
        timed.append(seconds)
        retried = await act(http, worker, incident, {"id": f"{RUN}-resolve", "action": "resolve", "reason": "retry"})
        no_owner = await act(http, worker, incident, {"action": "reassign", "reason": "wrong grid"})
        for _ in range(5):  # more figures: each reopen and resolve is allowed after the other
            for verb, kind in (("reopen", "reopened"), ("resolve", "resolved")):
                status, body, seconds = await act(http, worker, incident, {"action": verb, "reason": "again"})
                assert (status, body["verdict"]) == (200, kind)
                timed.append(seconds)

    assert answers["ack again"][0] == 409
    assert answers["ack again"][1]["errors"] == [
        {"field": "action", "reason": "事件处置中，不能签收（仅待签收时可以）"}
    ]
    assert answers["resolve"][0] == 200 and answers["resolve"][1]["verdict"] == "resolved"
    assert answers["resolve again"][0] == 409
    assert answers["resolve again"][1]["errors"][0]["reason"].startswith("事件已办结，不能办结")
    assert answers["unknown incident"][0] == 404
    assert answers["unknown incident"][1]["errors"][0]["field"] == "incident"
    # A retry of a judged action gets the same verdict at once: the engine says nothing about a known id.
    assert retried[:2] == answers["resolve"]
    assert no_owner[0] == 422 and no_owner[1]["errors"] == [
        {"field": "owner", "reason": "is required when action is reassign"}
    ]
    print(
        f"\nverdict latency (post to answer, one worker, two Kafka hops): median {statistics.median(timed) * 1000:.0f} ms, "
        f"max {max(timed) * 1000:.0f} ms over {len(timed)} actions; a retry from memory {retried[2] * 1000:.0f} ms"
    )


async def test_without_a_verdict_in_time_the_answer_is_202(worker):
    """A worker started after the engine judged an action knows no verdict for it, and the engine ignores
    the action's id when it comes again: the answer is 202 after REDWALL_ACTION_VERDICT_SECONDS."""
    street = await dispatcher_headers(worker.settings, f"{RUN}-wang")
    async with aiohttp.ClientSession(headers=street) as http:
        incident = await open_incident(http, worker, f"{RUN}-r2")
        await opened(worker, incident)
        status, body, _ = await act(http, worker, incident, {"action": "ack", "reason": "on my way"})
        assert status == 200
        worker.process.stop()
        worker.process.start()
        await worker.serving()
        status, again, seconds = await act(
            http, worker, incident, {"id": body["action"], "action": "ack", "reason": "retry"}
        )
    assert status == 202 and again["accepted"] == body["action"] and again["incident"] == incident
    assert seconds >= worker.settings.action_verdict_seconds
