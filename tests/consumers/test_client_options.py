"""Each process builds its Kafka client options once, at start, and hands them to every client it opens:
the sink's six batch consumers, its lag monitor and its broker watch (a client every two seconds), the
delivery process's producer, channel consumers and watch. Against the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
from prometheus_client import CollectorRegistry

from config import kafka_security
from config.routing import load_routing
from consumers import deliver, sink
from streams.demo.embedded import free_port
from tests.support.topics import own_topics

pytestmark = pytest.mark.integration

RUN_SECONDS = 5.0  # two and more rounds of the broker watch


@pytest.fixture
def builds(monkeypatch) -> list[int]:
    """One entry per kafka_options() call: each builds the client's TLS context (None in plaintext)."""
    calls, context = [], kafka_security.tls_context

    def counted(settings):
        calls.append(1)
        return context(settings)

    monkeypatch.setattr(kafka_security, "tls_context", counted)
    return calls


async def run_for(seconds: float, serve) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(serve(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 30)


def own(settings):
    return dataclasses.replace(settings, **own_topics(settings, f"options-{uuid.uuid4().hex[:8]}"))


async def test_the_sink_builds_its_kafka_client_options_once(settings, builds, monkeypatch):
    monkeypatch.setattr(sink, "REGISTRY", CollectorRegistry())
    s = dataclasses.replace(own(settings), sink_metrics_port=free_port())
    await run_for(RUN_SECONDS, lambda stop: sink.serve(s, stop))
    assert len(builds) == 1


async def test_the_delivery_process_builds_its_kafka_client_options_once(settings, builds, monkeypatch):
    monkeypatch.setattr(deliver, "REGISTRY", CollectorRegistry())
    s = dataclasses.replace(own(settings), deliver_metrics_port=free_port())
    routing = load_routing(s.routing_path)
    assert routing.channels  # the sample's channels, each with its consumer
    await run_for(RUN_SECONDS, lambda stop: deliver.serve(s, routing, stop))
    assert len(builds) == 1
