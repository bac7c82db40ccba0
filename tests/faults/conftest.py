"""Services of the fault tests' own, which the tests may stop: a Tansu broker and a PostgreSQL for this
package alone, migrated and seeded, and helpers that run `redwall` processes against them."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
import uuid
from pathlib import Path

import asyncpg
import pytest

from config.settings import Settings
from sinks.migrate import migrate_and_seed
from sinks.patrol import load_roster_files
from streams.demo.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics
from tests.faults.routing_file import routing
from tests.faults.webhook_outage import WebhookOutage
from tests.support.topics import own_topics


@pytest.fixture(scope="package", autouse=True)
def webhook_outage(settings, tmp_path_factory):
    """The two-minute webhook outage, started first so that it runs beside the other fault tests
    (on the session's broker and Postgres, which they leave alone); test_webhook_outage checks it."""
    scenario = WebhookOutage(settings, tmp_path_factory.mktemp("webhook-outage")).start()
    try:
        yield scenario
    finally:
        scenario.close()


@pytest.fixture(scope="package")
def fault_broker(tmp_path_factory):
    """A broker the tests may stop and start again on the same port."""
    broker = EmbeddedBroker(tmp_path_factory.mktemp("fault-tansu")).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="package")
async def fault_postgres():
    """A PostgreSQL the tests may stop and start again: its data and its URL survive a restart."""
    data_dir = Path(tempfile.mkdtemp(prefix="redwall-fault-pg-"))
    postgres = EmbeddedPostgres(data_dir, keep=True).start()
    try:
        yield postgres
    finally:
        postgres.keep = False
        postgres.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
async def fault_settings(fault_broker, fault_postgres, tmp_path) -> Settings:
    """Settings of one test: its own topics (no earlier test's records), ports, and a routing file of
    one JSON channel per incident, sent at once (`routing` rewrites it)."""
    run = f"f{uuid.uuid4().hex[:6]}"
    base = Settings.from_env(broker=fault_broker.bootstrap, database_url=fault_postgres.url)
    topics = own_topics(base, run)
    settings = dataclasses.replace(
        base,
        web_port=free_port(),
        worker_metrics_port=free_port(),
        sink_metrics_port=free_port(),
        deliver_metrics_port=free_port(),
        webhook_secret=f"secret-{run}",
        routing_path=tmp_path / "routing.toml",
        **topics,
    )
    settings.routing_path.write_text(routing({"fault": "http://127.0.0.1:9/json/fault"}))
    await ensure_topics(settings)
    await migrate_and_seed(settings)
    await load_roster_files(settings)
    return settings


@dataclasses.dataclass
class Processes:
    """`redwall worker|sink|deliver` against one test's settings, each logging into the test's dir."""

    settings: Settings
    log_dir: Path

    def __post_init__(self):
        s = self.settings
        self.worker = RedwallProcess("worker", s, self.log_dir)
        self.sink = RedwallProcess("sink", s, self.log_dir)
        self.deliver = RedwallProcess("deliver", s, self.log_dir)
        self.urls = {
            "worker": f"http://127.0.0.1:{s.worker_metrics_port}/metrics",
            "sink": f"http://127.0.0.1:{s.sink_metrics_port}/metrics",
            "deliver": f"http://127.0.0.1:{s.deliver_metrics_port}/metrics",
        }

    @property
    def ingest_url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    async def start(self, *names: str) -> None:
        for name in names or ("worker", "sink", "deliver"):
            getattr(self, name).start()
        for name in names or ("worker", "sink", "deliver"):
            await self.ready(name)

    async def ready(self, name: str) -> None:
        await asyncio.to_thread(getattr(self, name).wait_http, self.urls[name])

    def stop(self) -> None:
        for proc in (self.worker, self.sink, self.deliver):
            proc.stop()


@pytest.fixture
def processes(fault_settings, tmp_path):
    procs = Processes(fault_settings, tmp_path)
    try:
        yield procs
    finally:
        procs.stop()


@pytest.fixture
async def fault_pg(fault_postgres):
    conn = await asyncpg.connect(fault_postgres.url)
    try:
        yield conn
    finally:
        await conn.close()
