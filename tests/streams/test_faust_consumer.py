"""HandledOnlyConsumer against the real broker: a batch whose handling raised is not committed past, but
fetched again from the partition's head (the rewind) and committed only once handled."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.demo.processes import die_with_parent
from streams.topics import ensure_topics, produce_records

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RECORDS = 20
FAIL = 3  # in the first batch, so the partition's head stays unhandled while later batches are handled


def batches(out: Path) -> list[tuple[str, list[int]]]:
    """The worker's batches in order: ("raised" | "handled", offsets)."""
    if not out.exists():
        return []
    return [(what, [int(o) for o in offsets]) for what, *offsets in map(str.split, out.read_text().splitlines())]


def handled(out: Path) -> set[int]:
    return {o for what, offsets in batches(out) if what == "handled" for o in offsets}


async def test_a_batch_that_raised_is_fetched_again_before_it_is_committed(settings, tmp_path):
    group = f"refusal-{uuid.uuid4().hex[:8]}"  # the Faust app id: a group with no commit yet
    topic = f"{group}.records"
    await ensure_topics(settings, (topic,), partitions=1)
    await produce_records(settings, topic, [(None, b"%d" % i) for i in range(RECORDS)])
    # Same group, never subscribed: it only reads what the worker commits.
    watcher = AIOKafkaConsumer(bootstrap_servers=settings.broker, group_id=group, enable_auto_commit=False)
    await watcher.start()
    tp = TopicPartition(topic, 0)
    out, log_path = tmp_path / "batches.txt", tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        # A child process: Faust's worker owns its event loop (and would fight pytest's for it).
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.streams.refusing_worker",
                settings.broker,
                group,
                topic,
                str(tmp_path / "faust"),
                str(out),
                str(FAIL),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            committed = await watcher.committed(tp) or 0
            # The offset is read before the file: a commit past FAIL must follow FAIL's handling.
            assert committed <= FAIL or FAIL in handled(out), f"committed {committed} before {FAIL} was handled"
            if committed >= RECORDS:
                break
            assert worker.poll() is None and time.monotonic() < deadline, (
                f"worker exited ({worker.poll()}) or stalled at {committed}:\n{log_path.read_text()[-3000:]}"
            )
            await asyncio.sleep(0.2)
    finally:
        worker.kill()
        worker.wait()
        await watcher.stop()

    assert committed == RECORDS
    history = batches(out)
    raised = [i for i, (what, offsets) in enumerate(history) if what == "raised"]
    assert len(raised) == 1 and FAIL in history[raised[0]][1], history
    assert any(what == "handled" and FAIL in offsets for what, offsets in history[raised[0] + 1 :]), history
    assert handled(out) == set(range(RECORDS)), history
    assert "fetching again from it" in log_path.read_text(), "delivered again, but not by the rewind"
    rewinds, failed = max(offsets for what, offsets in history if what == "counted")
    assert rewinds >= 1 and failed >= 1, history  # counted, for the ops alert on repeated rewinds
