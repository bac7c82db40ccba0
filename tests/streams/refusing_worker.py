"""A Faust worker for tests/streams/test_faust_consumer.py: one agent on HandledOnlyConsumer whose first
batch holding offset FAIL raises. Usage: python -m tests.streams.refusing_worker BOOTSTRAP APP_ID TOPIC
DATADIR OUT FAIL; OUT gets a line "raised ..." or "handled ..." with each batch's offsets, and after each
handled batch a line "counted R U": the partitions rewound and the records left uncommitted as failed."""

from __future__ import annotations

import sys

import faust
from prometheus_client import CollectorRegistry

import streams.faust_consumer
from streams.faust_consumer import HandledOnlyConsumer, handling
from streams.metrics import WorkerMetrics


def main(bootstrap: str, app_id: str, topic: str, datadir: str, out: str, fail: int) -> None:
    streams.faust_consumer.HEAD_GRACE_SECONDS = 2.0  # the rewind within the test's time, not after 10 s
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        autodiscover=False,
        datadir=datadir,
        web_enabled=False,
        # As streams/app.py: a short session so the group join waits seconds, not 30.
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        broker_commit_interval=0.5,
    )
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    app.transport.Consumer = HandledOnlyConsumer.counting(metrics)
    source = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    raised = False  # outlives the crashed actor: the one Faust starts in its place handles every batch

    def record(what: str, offsets: list[int]) -> None:
        with open(out, "a") as f:
            f.write(f"{what} {' '.join(map(str, offsets))}\n")

    @app.agent(source, name="refusing")
    async def refusing(stream):
        nonlocal raised
        async for events in stream.take_events(10, within=0.05):
            with handling(app, events):
                offsets = [e.message.offset for e in events]
                if fail in offsets and not raised:
                    raised = True
                    record("raised", offsets)
                    raise RuntimeError(f"refusing the batch with offset {fail}")
                record("handled", offsets)  # before the loop body returns, so before the acknowledgement
            record(
                "counted",
                [
                    int(registry.get_sample_value(name, labels) or 0)
                    for name, labels in (
                        ("redwall_partition_rewinds_total", {"topic": topic}),
                        ("redwall_records_left_uncommitted_total", {"topic": topic, "reason": "failed"}),
                    )
                ],
            )

    faust.Worker(app, loglevel="info").execute_from_commandline()


if __name__ == "__main__":
    main(*sys.argv[1:6], int(sys.argv[6]))
