"""The Postgres sinks against the real Tansu broker and PostgreSQL: migrations, idempotent writes, and
batch consumers that resume, retry and never commit offsets ahead of the rows."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY
from consumers import shell
from consumers.batch import BatchConsumer, SinkMetrics
from consumers.sink import batch_sinks, run_sinks
from schemas import json
from schemas.records import DeadLetter, LocatedReport, PositionBatch
from sinks.migrate import MIGRATIONS_DIR, SchemaTooNew, migrate
from sinks.postgres import PostgresSink, SinkUnavailable, seed_places
from streams.demo.embedded import free_port
from streams.topics import ensure_topics

pytestmark = pytest.mark.integration

# In the past, so every fix may become a latest position.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def at(second: int) -> datetime:
    return T0 + timedelta(seconds=second)


def position_batch(device: str, first_second: int, n: int) -> dict:
    pings = [
        {
            "lat": 39.91,
            "lng": 116.37,
            "accuracy": 5.0,
            "time": at(first_second + i).isoformat(),
            "speed": 1.2,
            "street": "xichangan",
            "community": "c01",
            "grid": "g0101",
        }
        for i in range(n)
    ]
    return PositionBatch.validate({"device": device, "pings": pings})


def located_report(device: str, n: int, **changes) -> dict:
    value = {
        "id": f"{device}-r{n}",
        "device": device,
        "category": "sanitation",
        "severity": "low",
        "text": "楼道堆物",
        "location": {"lat": 39.91, "lng": 116.37, "accuracy": 5.0},
        "event_time": at(n).isoformat(),
        "street": "xichangan",
        "community": "c01",
        "grid": "g0101",
        "cell": "8c31aa4298d1bff",
        **changes,
    }
    return LocatedReport.validate(value)


def dead_letter(topic: str, offset: int, key: bytes | None = b"dev-1") -> dict:
    value = {
        "reason": "invalid record",
        "errors": [{"field": "pings.0.lat", "reason": "must be between -90 and 90"}],
        "source_topic": topic,
        "partition": 0,
        "offset": offset,
        "value_b64": base64.b64encode(b"{}").decode(),
        "failed_at": at(offset).isoformat(),
    }
    if key is not None:
        value["key_b64"] = base64.b64encode(key).decode()
    return DeadLetter.validate(value)


def with_params(dsn: str, **params: str) -> str:
    """The DSN with extra query parameters; asyncpg passes unknown ones on as server settings."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(query=urlencode(parse_qsl(parts.query) + list(params.items()))))


async def produce(settings, topic: str, values: list[bytes | dict]) -> list:
    """Send in order and return each record's metadata (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.broker, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, v if isinstance(v, bytes) else json.dumps(v), key=b"k%d" % i)
            for i, v in enumerate(values)
        ]
        return list(await asyncio.gather(*futures))
    finally:
        await producer.stop()


async def committed(settings, group: str, topic: str) -> dict[TopicPartition, int]:
    """The group's committed offsets on the topic (Tansu garbles the admin client's OffsetFetch)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.broker, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        offsets = {
            tp: await consumer.committed(tp)
            for tp in map(TopicPartition, [topic] * settings.partitions, range(settings.partitions))
        }
    finally:
        await consumer.stop()
    return {tp: offset for tp, offset in offsets.items() if offset is not None}


def ends(sent: list) -> dict[TopicPartition, int]:
    """Next offset after the last record sent, per partition: what a drained consumer has committed."""
    out: dict[TopicPartition, int] = {}
    for meta in sent:
        tp = TopicPartition(meta.topic, meta.partition)
        out[tp] = max(out.get(tp, 0), meta.offset + 1)
    return out


async def eventually(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def drained(settings, group: str, sent: list, timeout: float = 30.0) -> None:
    async def check():
        return await committed(settings, group, sent[0].topic) == ends(sent)

    await eventually(check, f"{group} to commit every record", timeout)


async def stored_fixes(pg, prefix: str) -> set[tuple[str, datetime]]:
    rows = await pg.fetch("SELECT device_id, event_time FROM positions WHERE device_id LIKE $1", prefix + "%")
    return {(r["device_id"], r["event_time"]) for r in rows}


async def assert_commits_covered(pg, settings, group: str, sent: list, batches: list[dict], prefix: str) -> None:
    """Every record below a committed offset has all its fixes in Postgres (offsets read first)."""
    offsets = await committed(settings, group, sent[0].topic)
    rows = await stored_fixes(pg, prefix)
    for meta, batch in zip(sent, batches):
        if meta.offset < offsets.get(TopicPartition(meta.topic, meta.partition), 0):
            assert {(batch["device"], datetime.fromisoformat(p["time"])) for p in batch["pings"]} <= rows


@contextlib.asynccontextmanager
async def running(coro, stop: asyncio.Event):
    """Run a consumer for the body of a with-block; on leaving, stop it and surface its failure."""
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


def sample(registry: CollectorRegistry, name: str, **labels) -> float:
    return registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def run() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def sink_settings(settings, run):
    """Topics of the test's own, and small batches so that a run takes several."""
    s = dataclasses.replace(
        settings,
        topic_located_reports=f"test.located-reports.{run}",
        topic_positions=f"test.positions.{run}",
        topic_deadletter=f"test.deadletter.{run}",
        sink_batch_size=3,
        sink_metrics_port=free_port(),
    )
    await ensure_topics(s, (s.topic_located_reports, s.topic_positions, s.topic_deadletter))
    return s


@pytest.fixture
async def scratch_dsn(pg, database_url, run):
    """The session database seen through an empty schema, for migrating from nothing."""
    schema = f"scratch_{run}"
    await pg.execute(f"CREATE SCHEMA {schema}")
    yield with_params(database_url, search_path=schema)
    await pg.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
async def sink(database_url):
    sink = await PostgresSink.connect(database_url)
    yield sink
    await sink.close()


# -- migrations ---------------------------------------------------------------------------------

ALL_MIGRATIONS = sorted(path.stem for path in MIGRATIONS_DIR.glob("*.sql"))


async def test_migrate_applies_each_migration_once(scratch_dsn):
    assert await migrate(scratch_dsn) == ALL_MIGRATIONS
    assert await migrate(scratch_dsn) == []


async def test_concurrent_migrators_apply_each_migration_once(scratch_dsn):
    results = await asyncio.gather(migrate(scratch_dsn), migrate(scratch_dsn), migrate(scratch_dsn))
    assert sorted(sum(results, [])) == ALL_MIGRATIONS


async def test_migrate_refuses_a_schema_newer_than_the_code(scratch_dsn):
    await migrate(scratch_dsn)
    conn = await asyncpg.connect(scratch_dsn)
    await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')")
    await conn.close()
    with pytest.raises(
        SchemaTooNew, match=f"9999_from_the_future.*only knows migrations up to {ALL_MIGRATIONS[-1][:4]}"
    ):
        await migrate(scratch_dsn)


async def test_seed_places_upserts_the_sample_geometry(scratch_dsn):
    await migrate(scratch_dsn)
    geometry = load_geometry(SAMPLE_GEOMETRY)
    conn = await asyncpg.connect(scratch_dsn)
    try:
        assert await seed_places(conn, geometry) == 1 + 13 + 71 + 1440
        assert await seed_places(conn, geometry) == 1525  # an upsert: running it again changes nothing
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM streets) s, (SELECT count(*) FROM communities) c,"
            " (SELECT count(*) FROM grids) g"
        )
        assert tuple(counts) == (1, 13, 71)
        grid = next(iter(geometry.grids.values()))
        row = await conn.fetchrow("SELECT community_id, geometry->>'type' AS kind FROM grids WHERE id = $1", grid.id)
        assert (row["community_id"], row["kind"]) == (grid.parent, "Polygon")
    finally:
        await conn.close()


# -- the sink on its own ------------------------------------------------------------------------


async def test_write_positions_is_idempotent_and_keeps_the_newest_fix(sink, pg, run):
    device = f"dev-{run}"
    first = position_batch(device, 0, 10)
    first["pings"] += first["pings"][:3]  # duplicate fixes inside one batch
    assert await sink.write_positions([first, first]) == {"positions": 10, "latest_positions": 1}
    assert await sink.write_positions([position_batch(device, 10, 10)]) == {"positions": 10, "latest_positions": 1}
    older = position_batch(device, -5, 5)
    assert await sink.write_positions([older, first]) == {"positions": 5, "latest_positions": 0}
    # A fix from a phone whose clock runs a day ahead is history, never the latest position.
    assert await sink.write_positions([position_batch(device, 2 * 86400, 1)]) == {"positions": 1, "latest_positions": 0}
    assert len(await stored_fixes(pg, device)) == 26
    assert await pg.fetchval("SELECT event_time FROM latest_positions WHERE device_id = $1", device) == at(19)


async def test_write_reports_and_dead_letters_ignore_duplicates(sink, pg, run):
    device = f"dev-{run}"
    outside = located_report(
        device, 2, street=None, community=None, grid=None, text="a'); DROP TABLE reports; --", photos=["p/1.jpg"]
    )
    reports = [located_report(device, 1), located_report(device, 1), outside]
    assert await sink.write_reports(reports) == {"reports": 2}
    assert await sink.write_reports(reports) == {"reports": 0}
    row = await pg.fetchrow("SELECT grid_id, text, photos, event_time FROM reports WHERE id = $1", outside["id"])
    assert (row["grid_id"], row["text"], json.loads(row["photos"]), row["event_time"]) == (
        None,
        "a'); DROP TABLE reports; --",
        ["p/1.jpg"],
        at(2),
    )
    topic = f"topic-{run}"
    letters = [dead_letter(topic, 1), dead_letter(topic, 1), dead_letter(topic, 2, key=None)]
    assert await sink.write_dead_letters(letters) == {"dead_letters": 2}
    assert await sink.write_dead_letters(letters) == {"dead_letters": 0}
    keys = await pg.fetch('SELECT key, payload FROM dead_letters WHERE source_topic = $1 ORDER BY "offset"', topic)
    assert [(r["key"], r["payload"]) for r in keys] == [(b"dev-1", b"{}"), (None, b"{}")]


async def test_an_unreachable_database_is_sink_unavailable():
    sink = await PostgresSink.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/redwall")
    try:
        with pytest.raises(SinkUnavailable):
            await sink.write_positions([position_batch("dev-x", 0, 1)])
    finally:
        await sink.close()


# -- the batch consumers ------------------------------------------------------------------------


async def test_run_sinks_drains_every_topic_exactly_once(sink_settings, pg, run):
    s, prefix = sink_settings, f"test-sink-{run}"
    a, b = f"dev-{run}-a", f"dev-{run}-b"
    with_duplicates = position_batch(a, 0, 20)
    with_duplicates["pings"] += with_duplicates["pings"][5:10]
    batches = [
        with_duplicates,
        position_batch(b, 0, 20),
        position_batch(a, 20, 20),
        with_duplicates,
        position_batch(b, -10, 10),
    ]  # a replayed batch, then one older than what b already sent
    reports = [located_report(a, n) for n in range(10)] + [located_report(a, 0), b"not json"]
    letters = [dead_letter(f"src-{run}", n) for n in range(3)] + [dead_letter(f"src-{run}", 0)]
    sent = {
        "reports": await produce(s, s.topic_located_reports, reports),
        "positions": await produce(s, s.topic_positions, batches),
        "dead-letters": await produce(s, s.topic_deadletter, letters),
    }
    registry, stop = CollectorRegistry(), asyncio.Event()
    # In the process shell, as `redwall sink` runs it: the ops listener serves this registry.
    sinks = shell.serve(
        s,
        "sink",
        lambda kafka, stop: run_sinks(s, registry, stop, group_prefix=prefix, kafka=kafka),
        stop=stop,
        ops=(registry, s.sink_metrics_port),
    )
    async with running(sinks, stop):
        for name, records in sent.items():
            await drained(s, f"{prefix}-{name}", records)
        page = await asyncio.to_thread(_get, f"http://{s.web_host}:{s.sink_metrics_port}/metrics")

    assert len(await stored_fixes(pg, f"dev-{run}")) == 40 + 30
    latest = dict(
        await pg.fetch("SELECT device_id, event_time FROM latest_positions WHERE device_id LIKE $1", f"dev-{run}%")
    )
    assert latest == {a: at(39), b: at(19)}
    assert await pg.fetchval("SELECT count(*) FROM reports WHERE device_id = $1", a) == 10
    assert await pg.fetchval("SELECT count(*) FROM dead_letters WHERE source_topic = $1", f"src-{run}") == 3
    assert sample(registry, "redwall_sink_records_total", table="positions") == 70
    assert sample(registry, "redwall_sink_failures_total", table="reports", reason="undecodable") == 1
    assert sample(registry, "redwall_event_to_sink_seconds_count", stage="positions") >= 1
    assert 'redwall_sink_records_total{table="reports"} 10.0' in page


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


async def test_a_stopped_consumer_resumes_from_its_commits(sink_settings, sink, pg, run):
    s, prefix = sink_settings, f"test-sink-{run}"
    batches = [position_batch(f"dev-{run}-{n % 3}", 10 * n, 10) for n in range(12)]
    sent = await produce(s, s.topic_positions, batches)
    spec = batch_sinks(s, sink, prefix)[1]
    group = spec.group_id
    stop = asyncio.Event()

    async def write_then_stop(records):
        written = await sink.write_positions(records)
        stop.set()  # stop mid-way: after the first batch, while the rest waits in the topic
        return written

    await BatchConsumer(s, dataclasses.replace(spec, write=write_then_stop), SinkMetrics(CollectorRegistry())).run(stop)
    first = await committed(s, group, s.topic_positions)
    done = sum(1 for m in sent if m.offset < first.get(TopicPartition(m.topic, m.partition), 0))
    assert 0 < done <= s.sink_batch_size
    assert len(await stored_fixes(pg, f"dev-{run}")) == 10 * done  # exactly the committed batch
    await assert_commits_covered(pg, s, group, sent, batches, f"dev-{run}")

    registry, stop = CollectorRegistry(), asyncio.Event()
    async with running(BatchConsumer(s, spec, SinkMetrics(registry)).run(stop), stop):
        await drained(s, group, sent)
    assert len(await stored_fixes(pg, f"dev-{run}")) == 120
    # The second run started at the commits: it never re-read what the first run had written.
    assert sample(registry, "redwall_sink_batch_records_sum", sink="positions") == len(batches) - done


class Gate:
    """A TCP path to the real Postgres that the test opens and closes, as if the database went away
    and came back: closed, it refuses connections and cuts the ones it carried."""

    def __init__(self, dsn: str):
        parts = urlsplit(dsn)
        query = dict(parse_qsl(parts.query))
        port = parts.port or int(query.pop("port", 5432))
        socket_dir = query.pop("host", None) or (parts.hostname if (parts.hostname or "").startswith("/") else None)
        self._target = (f"{socket_dir}/.s.PGSQL.{port}",) if socket_dir else (parts.hostname or "127.0.0.1", port)
        self.port = free_port()
        user = parts.netloc.rpartition("@")[0]
        self.dsn = urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{self.port}", query=urlencode(query)))
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def close(self) -> None:
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _pipe(self, client_reader, client_writer) -> None:
        if len(self._target) == 1:
            reader, writer = await asyncio.open_unix_connection(self._target[0])
        else:
            reader, writer = await asyncio.open_connection(*self._target)
        self._writers |= {client_writer, writer}
        await asyncio.gather(_copy(client_reader, writer), _copy(reader, client_writer))


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        return  # the gate cut this side; closing the other below is all there is to do
    finally:
        writer.close()


async def test_a_database_that_goes_away_is_retried_and_nothing_committed(sink_settings, database_url, pg, run):
    s, prefix = sink_settings, f"test-sink-{run}"
    gate = Gate(database_url)
    sink = await PostgresSink.connect(gate.dsn)
    spec = batch_sinks(s, sink, prefix)[1]
    registry, stop = CollectorRegistry(), asyncio.Event()

    def failures() -> float:
        return sample(registry, "redwall_sink_failures_total", table="positions", reason="unavailable")

    async def failed(times):
        return failures() >= times

    batches = [position_batch(f"dev-{run}", 10 * n, 10) for n in range(8)]
    sent = await produce(s, s.topic_positions, batches[:4])
    try:
        async with running(BatchConsumer(s, spec, SinkMetrics(registry)).run(stop), stop):
            await eventually(lambda: failed(3), "three refused attempts")  # the gate starts closed
            assert await committed(s, spec.group_id, s.topic_positions) == {}
            await gate.open()
            await drained(s, spec.group_id, sent)
            await gate.close()  # and now the database goes away in the middle of the run
            sent += await produce(s, s.topic_positions, batches[4:])
            before = failures()
            await eventually(lambda: failed(before + 2), "two more failed attempts")
            await assert_commits_covered(pg, s, spec.group_id, sent, batches, f"dev-{run}")
            await gate.open()
            await drained(s, spec.group_id, sent)
    finally:
        await sink.close()
    assert len(await stored_fixes(pg, f"dev-{run}")) == 80


async def test_a_connection_killed_mid_write_is_retried_and_commits_never_run_ahead(
    sink_settings, database_url, pg, run
):
    s, prefix, device, app = sink_settings, f"test-sink-{run}", f"dev-{run}", f"redwall-test-{run}"
    batches = [position_batch(device, 10 * n, 10) for n in range(6)]
    sent = await produce(s, s.topic_positions, batches)
    # Hold the device's latest-position row, so the sink's first write stops inside its transaction.
    await pg.execute(
        "INSERT INTO latest_positions (device_id, event_time, lat, lng, accuracy) VALUES ($1, $2, 39.9, 116.3, 5)",
        device,
        at(-3600),
    )
    holder = await asyncpg.connect(database_url)
    hold = holder.transaction()
    await hold.start()
    await holder.execute("SELECT 1 FROM latest_positions WHERE device_id = $1 FOR UPDATE", device)
    sink = await PostgresSink.connect(with_params(database_url, application_name=app))
    spec = batch_sinks(s, sink, prefix)[1]
    registry, stop, watching = CollectorRegistry(), asyncio.Event(), asyncio.Event()
    watcher = asyncio.create_task(_watch_commits(database_url, s, spec.group_id, sent, batches, device, watching))

    async def write_is_blocked():
        blocked = "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'"
        return await pg.fetchval(blocked, app) is not None

    async def failed_once():
        return sample(registry, "redwall_sink_failures_total", table="positions", reason="unavailable") >= 1

    try:
        async with running(BatchConsumer(s, spec, SinkMetrics(registry)).run(stop), stop):
            await eventually(write_is_blocked, "the sink's write to wait on the held row")
            assert await committed(s, spec.group_id, s.topic_positions) == {}
            await pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app)
            await eventually(failed_once, "the killed write to count as a failure")
            await hold.rollback()
            await drained(s, spec.group_id, sent)
    finally:
        watching.set()
        await holder.close()
        await sink.close()
    assert await watcher > 0
    assert len(await stored_fixes(pg, device)) == 60
    assert await pg.fetchval("SELECT event_time FROM latest_positions WHERE device_id = $1", device) == at(59)


async def _watch_commits(database_url, settings, group, sent, batches, prefix, until: asyncio.Event) -> int:
    """Check, until told to stop, that committed offsets never run ahead of the rows; returns how often."""
    conn = await asyncpg.connect(database_url)
    checks = 0
    try:
        while not until.is_set():
            await assert_commits_covered(conn, settings, group, sent, batches, prefix)
            checks += 1
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return checks
