"""The Faust app: broker settings tuned for batched records, and the domain modules wired onto it.

Its web server faces the phones, so it serves only Redwall's documented routes (schemas/openapi.py): every
view Faust would add by itself is off, and /metrics and /healthz are on the ops listener
(streams/ops_http.py, REDWALL_WORKER_METRICS_PORT)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

import faust
from faust.web.drivers.aiohttp import Web
from prometheus_client import CollectorRegistry

from config.kafka_security import faust_credentials
from config.settings import Settings
from sinks.migrate import prepare_schema
from streams import broker_epoch
from streams.credentials import CredentialCache
from streams.escalation import agents as escalation
from streams.faust_consumer import HandledOnlyConsumer
from streams.geofence import agents
from streams.geofence.geofencer import Geofencer, Topics
from streams.geofence.registry import GridRegistry
from streams.hotline import agents as hotline
from streams.http import actions, ingest
from streams.http import hotline as hotline_api
from streams.http import openapi as apidoc
from streams.http import tasks as tasks_api
from streams.metrics import OpsListener, WorkerMetrics, install_faust_sensor
from streams.patrol import agents as patrol
from streams.tasks import agents as tasks_wing
from streams.topics import client_options, ensure_topics

log = logging.getLogger(__name__)

APP_ID = "redwall"


class PublicWeb(Web):
    """Faust's aiohttp server without the index it mounts at / whenever its stats view is off (no setting
    covers that one); the settings in `create_app` turn off the others."""

    production_blueprints = ()


def create_app(
    settings: Settings,
    registry: GridRegistry,
    *,
    metrics_registry: CollectorRegistry | None = None,
    same_partitions: bool = True,
    kafka: dict | None = None,
) -> faust.App:
    """The worker's app; `kafka`, the aiokafka client options built once at start, goes to every client of
    Redwall's own (Faust's take `broker_credentials`)."""
    app = faust.App(
        APP_ID,
        broker=[f"kafka://{host}" for host in settings.broker.split(",")],
        broker_credentials=faust_credentials(
            settings
        ),  # TLS / SASL, as every other Kafka client (config/kafka_security.py)
        autodiscover=False,
        datadir=str(Path(tempfile.gettempdir()) / f"redwall-faust-{settings.web_port}"),
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_host=settings.web_host,
        # aiohttp refuses a larger body while reading it, before it is all in memory (streams/ingest.read_json).
        web_application_options={"client_max_size": settings.max_body_bytes},
        # Faust's own views answer without a credential: /router/ names every worker, /table/ lists tables
        # and reads any key (a patrol worker's last fix). Redwall uses none of them.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        # Measured on the embedded broker (KAFKA-NOTES.md): these matter for records that carry
        # many pings; Faust's defaults send one request per message and starve the prefetch.
        producer_linger=0.005,
        producer_max_batch_size=1_048_576,
        producer_max_request_size=16_777_216,
        consumer_max_fetch_size=16_777_216,
        broker_max_poll_records=5000,
        stream_buffer_maxsize=20_000,
        # Group joins wait about half the session timeout; the default 60 s means 30 s of silence
        # after every start and rebalance.
        broker_session_timeout=settings.kafka_session_seconds,
        broker_heartbeat_interval=settings.kafka_heartbeat_seconds,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
    )
    app.web = PublicWeb(app)  # before the first page is added, which would make Faust's default
    metrics_registry, kafka = metrics_registry or CollectorRegistry(), client_options(settings, kafka)
    install_faust_sensor(app, metrics_registry)
    app.add_dependency(OpsListener(metrics_registry, settings.web_host, settings.worker_metrics_port))
    metrics = WorkerMetrics(metrics_registry)
    # Commits only what an agent handled (streams/faust_consumer.py), counting what it leaves to fetch again.
    app.transport.Consumer = HandledOnlyConsumer.counting(metrics)
    geofencer = Geofencer(registry, Topics.from_settings(settings), settings.max_pings_per_batch)
    agents.install(app, geofencer, metrics, settings=settings, same_partitions=same_partitions)
    credentials = CredentialCache.from_settings(settings, metrics_registry)
    app.task(credentials.serve)  # loaded at start, then kept in step with Postgres by LISTEN/NOTIFY
    ingest.install(app, settings, metrics, credentials)
    hotline_api.install(app, settings, metrics, credentials)
    esc = escalation.install(app, settings, registry, metrics_registry, geofencer.dead_letter, kafka=kafka)
    tasks = tasks_wing.install(
        app, settings, registry, metrics_registry, esc.calendar, geofencer.dead_letter, kafka=kafka
    )
    monitor = patrol.install(app, settings, registry, metrics_registry, kafka=kafka, also=tasks.fixes)
    tasks.roster = lambda: monitor.roster
    tasks_api.install(
        app, settings, registry, metrics, credentials, tasks.roster, tasks.pool, tasks.rules.arrival.radius_m
    )
    hotline.install(app, settings, registry, metrics, geofencer.dead_letter, esc.rules.alert_max_age, esc.calendar)
    actions.install(
        app,
        settings,
        registry.communities,
        credentials,
        metrics,
        esc.keys,
        roles=esc.rules.action_roles,
        kafka=kafka,
        geometry=registry.geometry,
    )
    apidoc.install(app, settings)
    return app


def run_worker(settings: Settings, loglevel: str = "info", kafka: dict | None = None) -> None:
    """`redwall worker`: create the topics, build the registry, run Faust until SIGTERM/SIGINT. `kafka`: the
    client options, if the command built them already."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is a dependency, absent only on Windows
        pass
    registry = GridRegistry.from_settings(settings)
    log.info("grid registry: %s", registry.stats())
    asyncio.run(prepare_schema(settings))  # migrated by the owner, or waiting for `redwall migrate`
    kafka = client_options(settings, kafka)  # once, for every client of this process
    partitions = asyncio.run(ensure_topics(settings, kafka=kafka))
    epoch = asyncio.run(broker_epoch.broker_epoch(settings, kafka=kafka))
    inputs = {partitions[t] for t in (settings.topic_reports, settings.topic_pings)}
    outputs = {partitions[t] for t in (settings.topic_positions, settings.topic_deadletter)}
    same = len(inputs | outputs) == 1
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = create_app(settings, registry, same_partitions=same, kafka=kafka)
    broker_epoch.install(app, settings, epoch, kafka=kafka)  # a broker that lost its log ends the worker for a restart
    worker = faust.Worker(app, loglevel=loglevel, loop=loop)
    worker.execute_from_commandline()
