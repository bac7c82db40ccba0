"""Pings per second: Redwall's pipeline against a bare aiokafka loop doing the same work.

    python -m benchmarks.pipeline [--pings 300000] [--per-record 50] [--workers 1]

Both runs get the same records from the same producer process, on a broker and Postgres started
here, and are timed from the first record produced to the last row in Postgres. The baseline is
one process that consumes, decodes, geofences and COPYs (the same Geofencer and PostgresSink code);
the pipeline is `redwall worker` processes plus one `redwall sink`, with a Kafka hop between them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer

from config.kafka_security import kafka_options
from config.settings import Settings
from consumers.batch import FETCH_BYTES
from schemas import json
from sinks.migrate import migrate_and_seed
from sinks.postgres import PostgresSink
from streams.demo.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from streams.demo.processes import RedwallProcess
from streams.geofence.geofencer import Geofencer, Topics
from streams.geofence.registry import GridRegistry
from streams.topics import ensure_topics, produce_records


def make_records(pings: int, per_record: int, devices: int, seed: int = 1) -> list[tuple[bytes, bytes]]:
    """PingBatch records over the street; each device's fixes one second apart, so none repeat."""
    rng = random.Random(seed)
    # Today: fixes older than REDWALL_POSITION_RETENTION_DAYS would not be stored at all.
    start = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    clock = [0] * devices
    records = []
    for n in range(pings // per_record):
        device = n % devices
        batch = []
        for _ in range(per_record):
            clock[device] += 1
            batch.append(
                {
                    "lat": round(rng.uniform(39.8955, 39.9245), 7),
                    "lng": round(rng.uniform(116.3555, 116.3995), 7),
                    "accuracy": round(rng.uniform(3, 12), 1),
                    "time": (start + timedelta(seconds=clock[device])).isoformat(),
                }
            )
        name = f"bench-{device:05d}"
        records.append((name.encode(), json.dumps({"device": name, "pings": batch})))
    return records


def _produce(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    asyncio.run(produce_records(settings, topic, records))


def start_producer(settings: Settings, topic: str, records) -> multiprocessing.Process:
    """The load comes from its own process, the same way for both runs."""
    process = multiprocessing.get_context("fork").Process(target=_produce, args=(settings, topic, records))
    process.start()
    return process


async def wait_rows(dsn: str, expected: int, timeout: float) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while (count := await conn.fetchval("SELECT count(*) FROM positions")) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {count} of {expected} pings reached Postgres within {timeout} s")
            await asyncio.sleep(0.05)
        return time.monotonic()
    finally:
        await conn.close()


async def reset(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    await conn.execute("TRUNCATE positions, latest_positions")
    await conn.close()


async def baseline(settings: Settings, registry: GridRegistry, records, total: int) -> float:
    """One bare aiokafka loop: consume, decode, geofence, COPY, commit. Returns pings/s."""
    topic = "bench.baseline.pings"
    await ensure_topics(settings, (topic,))
    geofencer = Geofencer(registry, Topics.from_settings(settings), settings.max_pings_per_batch)
    sink = await PostgresSink.connect(settings.database_dsn)
    consumer = AIOKafkaConsumer(
        topic,
        **kafka_options(settings),
        group_id="bench-baseline",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_bytes=FETCH_BYTES,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    started = time.monotonic()
    producer = start_producer(settings, topic, records)
    written = 0
    try:
        while written < total:
            fetched = await consumer.getmany(timeout_ms=200, max_records=settings.sink_batch_size)
            located = [
                json.loads(geofencer.pings(r.value, r.topic, r.partition, r.offset, r.key).value)
                for rs in fetched.values()
                for r in rs
            ]
            if located:
                await sink.write_positions(located)
                await consumer.commit()
                written += sum(len(b["pings"]) for b in located)
        finished = await wait_rows(settings.database_dsn, total, 5)
    finally:
        producer.join()
        await consumer.stop()
        await sink.close()
    return total / (finished - started)


async def pipeline(settings: Settings, records, total: int, workers: int, log_dir: Path) -> float:
    """`redwall worker` x N and `redwall sink`, warmed up first. Returns pings/s."""
    procs = []
    for i in range(workers):
        worker_settings = dataclasses.replace(settings, web_port=free_port(), worker_metrics_port=free_port())
        procs.append((RedwallProcess("worker", worker_settings, log_dir / f"w{i}").start(), worker_settings))
    sink = RedwallProcess("sink", settings, log_dir).start()
    try:
        for proc, s in procs:
            proc.wait_http(f"http://127.0.0.1:{s.worker_metrics_port}/metrics")
        sink.wait_http(f"http://127.0.0.1:{settings.sink_metrics_port}/metrics")
        warm = make_records(10, 10, 1, seed=99)
        warm = [(b"warm", w.replace(b"bench-", b"warm-")) for _, w in warm]
        await asyncio.to_thread(_produce, settings, settings.topic_pings, warm)
        await wait_rows(settings.database_dsn, 10, 120)
        await reset(settings.database_dsn)
        started = time.monotonic()
        producer = start_producer(settings, settings.topic_pings, records)
        finished = await wait_rows(settings.database_dsn, total, 600)
        producer.join()
        return total / (finished - started)
    finally:
        for proc, _ in procs:
            proc.stop()
        sink.stop()


async def main(args) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="redwall-bench-"))
    for i in range(args.workers):
        (workdir / f"w{i}").mkdir()
    with EmbeddedBroker(workdir) as broker, EmbeddedPostgres(workdir / "pg") as postgres:
        settings = Settings.from_env(
            broker=broker.bootstrap, database_url=postgres.url, web_port=free_port(), sink_metrics_port=free_port()
        )
        await ensure_topics(settings)
        await migrate_and_seed(settings)
        registry = GridRegistry.from_settings(settings)
        records = make_records(args.pings, args.per_record, args.devices)
        total = len(records) * args.per_record
        print(
            f"{total} pings in {len(records)} records of {args.per_record}, {args.devices} devices, "
            f"{settings.partitions} partitions",
            flush=True,
        )
        base = await baseline(settings, registry, records, total)
        print(f"baseline (bare aiokafka + COPY): {base:,.0f} pings/s", flush=True)
        await reset(settings.database_dsn)
        piped = await pipeline(settings, records, total, args.workers, workdir)
        print(f"pipeline ({args.workers} worker{'s' * (args.workers > 1)} + sink): {piped:,.0f} pings/s", flush=True)
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"ratio: {piped / base:.2f} (pipeline {piped:.0f} pings/s, baseline {base:.0f} pings/s)")


def cli(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pings", type=int, default=300_000)
    parser.add_argument("--per-record", type=int, default=50, help="pings per Kafka record (a phone's upload)")
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the partitions")
    asyncio.run(main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(cli())
