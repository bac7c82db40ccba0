"""Faust agents that geofence reports and ping batches, many records per produce round.

At-least-once: a batch is acknowledged only after the loop body returns (`handling`), and the body
returns only once every output record is acknowledged by the broker. A crash re-delivers the
batch; the sinks are idempotent on event ids, so nothing is lost and nothing is doubled.
"""

from __future__ import annotations

import logging
import time

import faust

from schemas import json
from streams.faust_consumer import handling
from streams.geofence.geofencer import Geofencer, Output
from streams.metrics import WorkerMetrics
from streams.produce import Out, send_all
from streams.tasks.assign import assignment

log = logging.getLogger(__name__)

BATCH_RECORDS = 2000
# A short window keeps report-to-alert latency low; under load batches fill long before it ends.
BATCH_WITHIN_SECONDS = 0.02


def install(app: faust.App, geofencer: Geofencer, metrics: WorkerMetrics, *, settings, same_partitions: bool) -> None:
    reports = app.topic(
        settings.topic_reports, key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw"
    )
    pings = app.topic(
        settings.topic_pings, key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw"
    )

    async def run(stream, handle, also=lambda out: ()):
        source_topic = stream.channel.get_topic_name()
        ingested = metrics.ingested.labels(source_topic)
        located_total = metrics.located.labels(source_topic)
        async for events in stream.take_events(BATCH_RECORDS, within=BATCH_WITHIN_SECONDS):
            with handling(app, events):
                started = time.perf_counter()
                outputs = []
                located = rejected = 0
                for event in events:
                    msg = event.message
                    out = handle(msg.value, msg.topic, msg.partition, msg.offset, msg.key)
                    outputs.append((out, msg.partition))
                    outputs += [(extra, msg.partition) for extra in also(out)]
                    located += out.events
                    if out.rejected:
                        rejected += 1
                        for label in out.rejected:  # each wrong field once, as over HTTP
                            metrics.rejected.labels(msg.topic, "kafka", label).inc()
                        metrics.deadletters.labels(msg.topic).inc()
                    elif out.outside:
                        metrics.outside.inc()
                        log.warning(
                            "report outside every street (%s[%d]@%d): it waits in the unlocated queue for the "
                            "street's dispatchers",
                            msg.topic,
                            msg.partition,
                            msg.offset,
                        )
                elapsed = time.perf_counter() - started
                metrics.geofence_seconds.observe(elapsed / len(events))
                metrics.batch_records.observe(len(events))
                ingested.inc(len(events) - rejected)
                located_total.inc(located)
                await produce_all(app, outputs, same_partitions)

    @app.agent(reports, name="geofence-reports")
    async def geofence_reports(stream):
        await run(stream, geofencer.report, lambda out: assignments(out, settings.topic_task_actions))

    @app.agent(pings, name="geofence-pings")
    async def geofence_pings(stream):
        await run(stream, geofencer.pings)


async def produce_all(app: faust.App, outputs: list[tuple[Output, int]], same_partitions: bool) -> None:
    """Send every output and wait until the broker has them all (a failed send raises here)."""
    # Keeping the input partition skips the pure-Python partitioner (6-10 % of a batch); a re-keyed
    # record (a report keyed by its street) needs it so one street stays on one partition.
    await send_all(
        app.producer,
        [Out(o.topic, o.key, o.value, p if same_partitions and not o.rekeyed else None) for o, p in outputs],
    )


def assignments(out: Output, topic: str) -> list[Output]:
    """A located 生脸 report also goes to the tasks agent, to be given to the worker on duty (streams/tasks/assign.py)."""
    if out.rejected or b'"new_resident"' not in out.value:
        return []
    assign = assignment(json.loads(out.value))
    if assign is None:
        return []
    return [Output(topic, assign["grid"].encode(), json.dumps(assign), (), rekeyed=True)]
