"""The process shell of the sink, delivery and console processes (consumers/shell.py), against the real broker
and PostgreSQL: the work gets the Kafka client options and the stop event, the ops listener answers while it
runs and is gone after, and a failing work ends the process with its error."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from consumers import shell
from streams.demo.embedded import free_port

pytestmark = pytest.mark.integration


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


async def test_the_work_runs_in_the_shell_until_stopped(settings):
    registry, port, stop, seen = CollectorRegistry(), free_port(), asyncio.Event(), {}
    Counter("shell_test_rounds", "rounds of the test's work", registry=registry).inc()
    options = {"bootstrap_servers": settings.broker}

    async def work(kafka: dict, stop_: asyncio.Event) -> None:
        seen["kafka"], seen["stop"] = kafka, stop_
        seen["healthz"] = await asyncio.to_thread(get, f"http://{settings.web_host}:{port}/healthz")
        seen["metrics"] = await asyncio.to_thread(get, f"http://{settings.web_host}:{port}/metrics")
        await stop_.wait()

    task = asyncio.create_task(shell.serve(settings, "test", work, stop=stop, kafka=options, ops=(registry, port)))
    while "metrics" not in seen:
        assert not task.done(), task.exception()
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 15)
    assert seen["kafka"] is options and seen["stop"] is stop
    assert '"process": "test"' in seen["healthz"]
    assert "shell_test_rounds_total 1.0" in seen["metrics"]
    with pytest.raises(urllib.error.URLError):
        get(f"http://{settings.web_host}:{port}/healthz")


async def test_a_failing_work_ends_the_shell_with_its_error(settings):
    async def work(kafka: dict, stop: asyncio.Event) -> None:
        raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError, match="the work failed"):
        await asyncio.wait_for(shell.serve(settings, "test", work, stop=asyncio.Event()), 30)
