"""The sink process (`redwall sink`): once the schema is migrated, batch consumers drain the located reports,
the positions, the dead letters, patrol records, incident events, run-time major-event periods, 12345
orders with their events and task events into Postgres through one pool, and make the weekly 专报 each Monday
(consumers/report/schedule.py), with the ops listener (/metrics, /healthz on REDWALL_SINK_METRICS_PORT,
streams/ops_http.py) beside them."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import REGISTRY, CollectorRegistry

from config.calendar import load_calendar
from config.hotline import load_hotline
from config.settings import Settings
from consumers import shell
from consumers.batch import BatchConsumer, BatchSink, SinkMetrics
from consumers.hotline_gauges import HotlineGauges
from consumers.lag import LagMonitor
from consumers.report.schedule import WeeklySchedule
from consumers.retention import RetentionJob
from consumers.state_gauges import StateGauges
from schemas.hotline import LocatedHotlineOrder, hotline_records
from schemas.records import DeadLetter, IncidentEvent, LocatedReport, PatrolRecord, PositionBatch
from schemas.tasks import TaskEvent
from sinks.hotline import HotlineSink
from sinks.incidents import IncidentSink
from sinks.major_events import MajorEventSink
from sinks.partitions import PositionHistory
from sinks.patrol import PatrolSink
from sinks.postgres import PostgresSink
from sinks.tasks import TaskSink
from streams.escalation.control import MajorEventRecords
from streams.topics import client_options

log = logging.getLogger(__name__)

GROUP_PREFIX = "redwall-sink"


def batch_sinks(settings: Settings, sink: PostgresSink, group_prefix: str = GROUP_PREFIX) -> list[BatchSink]:
    """One consumer group per table family, so a slow table never holds back another's offsets."""
    return [
        BatchSink(
            "reports",
            settings.topic_located_reports,
            f"{group_prefix}-reports",
            LocatedReport,
            sink.write_reports,
            lambda r: r["event_time"],
        ),
        # Pings in a batch are in the order taken, so the last one is the newest.
        BatchSink(
            "positions",
            settings.topic_positions,
            f"{group_prefix}-positions",
            PositionBatch,
            sink.write_positions,
            lambda b: b["pings"][-1]["time"],
        ),
        BatchSink(
            "dead_letters",
            settings.topic_deadletter,
            f"{group_prefix}-dead-letters",
            DeadLetter,
            sink.write_dead_letters,
            lambda d: d["failed_at"],
        ),
        BatchSink(
            "patrol",
            settings.topic_patrol,
            f"{group_prefix}-patrol",
            PatrolRecord,
            PatrolSink(sink.pool).write,
            lambda r: r.get("event_time") or r["flags"][-1]["time"],
        ),
        # Both record how far they have written, for the escalation engine's rebuild (streams/escalation/rebuild.py).
        BatchSink(
            "incidents",
            settings.topic_incidents,
            f"{group_prefix}-incidents",
            IncidentEvent,
            IncidentSink(sink.pool).write,
            lambda e: e["when"],
            progress=True,
        ),
        BatchSink(
            "major_events",
            settings.topic_actions,
            f"{group_prefix}-major-events",
            MajorEventRecords(),
            MajorEventSink(sink.pool).write,
            lambda c: c["time"],
            progress=True,
        ),
        BatchSink(
            "hotline",
            settings.topic_hotline_located,
            f"{group_prefix}-hotline",
            hotline_records(LocatedHotlineOrder),
            HotlineSink(
                sink.pool,
                load_hotline(settings.hotline_path),
                load_calendar(settings.calendar_path, settings.holidays_path, settings.timezone),
            ).write,
            lambda r: r.get("dispatched_at") or r["time"],
        ),
        # Records how far it has written, for the tasks agent's rebuild (sinks/tasks.py task_snapshot).
        BatchSink(
            "tasks",
            settings.topic_tasks,
            f"{group_prefix}-tasks",
            TaskEvent,
            TaskSink(sink.pool).write,
            lambda e: e["when"],
            progress=True,
        ),
    ]


async def run_sinks(
    settings: Settings,
    registry: CollectorRegistry | None = None,
    stop_event: asyncio.Event | None = None,
    *,
    group_prefix: str = GROUP_PREFIX,
    kafka: dict | None = None,
) -> None:
    """The sinks' work, until `stop_event` is set or the task is cancelled; a failing consumer stops them all.
    (`serve` runs it in the process shell: schema, ops listener, broker watch.)"""
    registry = REGISTRY if registry is None else registry
    metrics, kafka = SinkMetrics(registry), client_options(settings, kafka)
    sink = await PostgresSink.connect(settings.database_dsn, history=PositionHistory.from_settings(settings, registry))
    try:
        async with asyncio.TaskGroup() as group:
            for spec in batch_sinks(settings, sink, group_prefix):
                group.create_task(
                    BatchConsumer(settings, spec, metrics, kafka=kafka).run(stop_event), name=f"sink-{spec.name}"
                )
            # Lag of every Redwall group (the worker's too), measured here because this process is ops-side.
            group.create_task(LagMonitor(settings, registry, kafka=kafka).run(stop_event), name="consumer-lag")
            group.create_task(StateGauges(sink.pool, registry).run(stop_event), name="state-gauges")
            group.create_task(
                HotlineGauges.from_settings(settings, sink.pool, registry).run(stop_event), name="hotline"
            )
            group.create_task(RetentionJob(settings, sink.pool, registry).run(stop_event), name="retention")
            group.create_task(
                WeeklySchedule.from_settings(settings, sink.pool, registry, kafka).run(stop_event), name="weekly-report"
            )
    finally:
        await sink.close()


def main(settings: Settings, kafka: dict | None = None) -> None:
    """`redwall sink`: run the sinks until SIGINT or SIGTERM, which finish the batch in hand first."""
    shell.run(lambda: serve(settings, kafka=kafka))


async def serve(settings: Settings, stop: asyncio.Event | None = None, *, kafka: dict | None = None) -> None:
    """The sink process in its shell (consumers/shell.py) until `stop` (default: SIGINT or SIGTERM)."""
    await shell.serve(
        settings,
        "sink",
        lambda kafka, stop: run_sinks(settings, stop_event=stop, kafka=kafka),
        stop=stop,
        kafka=kafka,
        ops=(REGISTRY, settings.sink_metrics_port),
    )
    log.info("sinks stopped")
