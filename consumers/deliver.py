"""`redwall deliver`: the delivery process. It validates routing.toml, then runs one channel consumer
per declared channel, sharing one HTTP session, one Postgres pool and one producer; the ops listener
(/metrics, /healthz on REDWALL_DELIVER_METRICS_PORT, streams/ops_http.py) beside them."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from prometheus_client import REGISTRY, CollectorRegistry

from config.routing import Routing, load_routing
from config.settings import Settings
from consumers.delivery import GROUP_PREFIX, ChannelConsumer, DeliveryMetrics
from consumers.sink import _loop_factory
from sinks.delivery_log import DeliveryLog
from sinks.migrate import prepare_schema
from sinks.webhook import webhook
from streams import ops_http
from streams.broker_epoch import run_watched
from streams.clock import Clock, SystemClock, stop_on_signals
from streams.produce import producing
from streams.topics import client_options

log = logging.getLogger(__name__)


async def run_delivery(settings: Settings, routing: Routing, registry: CollectorRegistry, stop: asyncio.Event, *,
                       group_prefix: str = GROUP_PREFIX, clock: Clock = SystemClock(), kafka: dict | None = None) -> None:
    if not routing.channels:  # a street with no webhook yet: nothing to deliver, nothing to dead-letter
        log.info("no channel in %s: alerts reach the console and %s only", routing.path, settings.topic_alerts)
        await stop.wait()
        return
    delivery_log = await DeliveryLog.connect(settings.database_dsn)
    metrics, kafka = DeliveryMetrics(registry), client_options(settings, kafka)
    try:
        async with (producing(kafka, linger_ms=5) as producer, aiohttp.ClientSession() as session,
                    asyncio.TaskGroup() as group):
            for channel in routing.channels.values():
                sender = webhook(channel, settings.webhook_secret, session, settings.timezone)
                consumer = ChannelConsumer(settings, routing, channel, sender, delivery_log, producer, metrics,
                                           clock=clock, group_prefix=group_prefix, kafka=kafka)
                group.create_task(consumer.run(stop), name=f"deliver-{channel.name}")
    finally:
        await delivery_log.close()


def main(settings: Settings, kafka: dict | None = None) -> None:
    """`redwall deliver`: validate routing.toml, then deliver until SIGINT or SIGTERM."""
    routing = load_routing(settings.routing_path)  # a bad file stops here, before anything starts
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve(settings, routing, kafka=kafka))


async def serve(settings: Settings, routing: Routing, stop: asyncio.Event | None = None, *,
                kafka: dict | None = None) -> None:
    """The process until `stop` (default: SIGINT or SIGTERM), every Kafka client on the options `kafka`
    (built here once if not handed down)."""
    stop, kafka = stop or stop_on_signals(), client_options(settings, kafka)
    await prepare_schema(settings)  # migrated by the owner, or waiting for `redwall migrate`
    async with ops_http.serving(REGISTRY, "deliver", settings.web_host, settings.deliver_metrics_port):
        log.info("delivering to %s", ", ".join(routing.channels) or "no channel")
        await run_watched(settings, "deliver", run_delivery(settings, routing, REGISTRY, stop, kafka=kafka), stop,
                          kafka=kafka)
