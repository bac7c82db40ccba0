"""Creating Redwall's topics with the configured partition count, before any worker starts."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from config.settings import Settings

log = logging.getLogger(__name__)


async def wait_for_broker(bootstrap: str, timeout: float = 30.0) -> AIOKafkaAdminClient:
    """An admin client connected to the broker, retrying while it starts up."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            return admin
        except KafkaConnectionError:
            await admin.close()
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def ensure_topics(settings: Settings, topics: tuple[str, ...] | None = None) -> None:
    """Create every topic that is missing; existing topics are left as they are."""
    admin = await wait_for_broker(settings.broker)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in (topics or settings.all_topics) if t not in existing]
        if missing:
            new = [NewTopic(t, num_partitions=settings.partitions, replication_factor=1) for t in missing]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another process created it between list and create
            log.info("created topics %s", ", ".join(missing))
    finally:
        await admin.close()
