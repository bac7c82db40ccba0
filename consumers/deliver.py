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
from consumers import shell
from consumers.delivery import GROUP_PREFIX, ChannelConsumer, DeliveryMetrics
from sinks.delivery_log import DeliveryLog
from sinks.webhook import webhook
from streams.clock import Clock, SystemClock
from streams.produce import producing
from streams.topics import client_options

log = logging.getLogger(__name__)


async def run_delivery(
    settings: Settings,
    routing: Routing,
    registry: CollectorRegistry,
    stop: asyncio.Event,
    *,
    group_prefix: str = GROUP_PREFIX,
    clock: Clock = SystemClock(),
    kafka: dict | None = None,
) -> None:
    if not routing.channels:  # a street with no webhook yet: nothing to deliver, nothing to dead-letter
        log.info("no channel in %s: alerts reach the console and %s only", routing.path, settings.topic_alerts)
        await stop.wait()
        return
    delivery_log = await DeliveryLog.connect(settings.database_dsn)
    metrics, kafka = DeliveryMetrics(registry), client_options(settings, kafka)
    try:
        async with (
            producing(kafka, linger_ms=5) as producer,
            aiohttp.ClientSession() as session,
            asyncio.TaskGroup() as group,
        ):
            for channel in routing.channels.values():
                sender = webhook(channel, settings.webhook_secret, session, settings.timezone)
                consumer = ChannelConsumer(
                    settings,
                    routing,
                    channel,
                    sender,
                    delivery_log,
                    producer,
                    metrics,
                    clock=clock,
                    group_prefix=group_prefix,
                    kafka=kafka,
                )
                group.create_task(consumer.run(stop), name=f"deliver-{channel.name}")
    finally:
        await delivery_log.close()


def main(settings: Settings, kafka: dict | None = None) -> None:
    """`redwall deliver`: validate routing.toml, then deliver until SIGINT or SIGTERM."""
    routing = load_routing(settings.routing_path)  # a bad file stops here, before anything starts
    shell.run(lambda: serve(settings, routing, kafka=kafka))


async def serve(
    settings: Settings, routing: Routing, stop: asyncio.Event | None = None, *, kafka: dict | None = None
) -> None:
    """The delivery process in its shell (consumers/shell.py) until `stop` (default: SIGINT or SIGTERM)."""
    log.info("delivering to %s", ", ".join(routing.channels) or "no channel")
    await shell.serve(
        settings,
        "deliver",
        lambda kafka, stop: run_delivery(settings, routing, REGISTRY, stop, kafka=kafka),
        stop=stop,
        kafka=kafka,
        ops=(REGISTRY, settings.deliver_metrics_port),
    )
