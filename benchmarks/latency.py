"""Report-to-alert latency under ping load: the escalation engine's "Speed" figure.

    python -m benchmarks.latency [--seconds 20] [--pings-per-second 10000] [--reports-per-second 50]

A broker and Postgres are started here, then one `redwall worker`. A separate process produces
PingBatch records (50 pings each) at the given rate while this process produces field reports at
their rate, each opening a new incident, and tails redwall.alerts.v1. Latency is from the broker's
acknowledgement of a report (it has entered Kafka) to the moment its `incident_opened` alert is
consumed. Clustering is narrowed to single cells here so that every report opens an incident.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import random
import re
import shutil
import statistics
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks.pipeline import make_records
from config.kafka_security import kafka_options
from config.rules import DEFAULT_RULES
from config.settings import Settings
from schemas import json
from sinks.migrate import migrate_and_seed
from streams.demo.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from streams.demo.processes import RedwallProcess
from streams.geofence.registry import GridRegistry
from streams.produce import BATCHED, Out, producing, send_all
from streams.topics import ensure_topics

PINGS_PER_RECORD = 50


def _ping_load(settings: Settings, topic: str, per_second: int, seconds: float, done) -> None:
    """Paced in 50 ms slices; reports how many pings the broker acknowledged and over how long."""

    async def run():
        records = make_records(int(per_second * seconds), PINGS_PER_RECORD, 2000, seed=5)
        started, sent, per_slice = time.monotonic(), 0, max(1, per_second // PINGS_PER_RECORD // 20)
        async with producing(kafka_options(settings), **BATCHED) as producer:
            for i in range(0, len(records), per_slice):
                outs = [Out(topic, k, v) for k, v in records[i : i + per_slice]]
                await send_all(producer, outs)
                sent += len(outs) * PINGS_PER_RECORD
                await asyncio.sleep(
                    max(0.0, started + (i + per_slice) / (per_second / PINGS_PER_RECORD) - time.monotonic())
                )
        done.put((sent, time.monotonic() - started))

    asyncio.run(run())


def _point(rng: random.Random, registry: GridRegistry) -> tuple[float, float]:
    while True:
        lat, lng = round(rng.uniform(39.8955, 39.9245), 7), round(rng.uniform(116.3555, 116.3995), 7)
        if registry.locate(lat, lng).community:
            return lat, lng


def _report(rng: random.Random, n: int, registry: GridRegistry) -> dict:
    lat, lng = _point(rng, registry)
    return {
        "id": f"lat-{n:06d}",
        "device": f"bench-{n % 80:04d}",
        "category": "sanitation",
        "severity": "low",
        "text": "benchmark",
        "location": {"lat": lat, "lng": lng, "accuracy": 5.0},
        "event_time": datetime.now(UTC).isoformat(),
    }


async def tail_alerts(
    settings: Settings, kafka: dict, arrived: dict[str, float], stop: asyncio.Event, ready: asyncio.Event
):
    # A short fetch wait: Tansu does not answer a waiting fetch early (see streams/escalation/agents.py).
    consumer = AIOKafkaConsumer(**kafka, enable_auto_commit=False, fetch_max_wait_ms=20)
    await consumer.start()
    try:
        await consumer.topics()
        parts = [TopicPartition(settings.topic_alerts, p) for p in consumer.partitions_for_topic(settings.topic_alerts)]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        ready.set()
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.monotonic()
                for r in records:
                    arrived.setdefault(json.loads(r.value)["incident"][-12:], now)
    finally:
        await consumer.stop()


async def produce_reports(
    settings: Settings,
    kafka: dict,
    per_second: int,
    seconds: float,
    sent: dict[str, float],
    registry: GridRegistry,
    first: int = 0,
) -> None:
    producer = AIOKafkaProducer(**kafka, linger_ms=0)
    await producer.start()
    rng, started = random.Random(first + 11), time.monotonic()  # warm-up points differ from measured ones
    try:
        for n in range(int(per_second * seconds)):
            await asyncio.sleep(max(0.0, started + n / per_second - time.monotonic()))
            report = _report(rng, first + n, registry)
            ack = await producer.send(settings.topic_reports, json.dumps(report), key=report["device"].encode())
            ack.add_done_callback(
                lambda _, rid=report["id"]: sent.__setitem__(
                    hashlib.sha1(rid.encode()).hexdigest()[:12], time.monotonic()
                )
            )
        await producer.flush()
    finally:
        await producer.stop()


def located_pings(metrics_url: str) -> float:
    text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    match = re.search(r'redwall_events_located_total\{topic="[^"]*pings[^"]*"\} ([0-9.e+]+)', text)
    return float(match.group(1)) if match else 0.0


def narrow_rules(workdir: Path) -> Path:
    """The sample rules with clustering down to one ~1 m² cell: every benchmark report opens an incident."""
    text = DEFAULT_RULES.read_text(encoding="utf-8").replace("resolution = 9", "resolution = 15")
    (workdir / "sample").mkdir(exist_ok=True)
    shutil.copy(DEFAULT_RULES.parent / "sample" / "sensitive_zones.geojson", workdir / "sample")
    path = workdir / "escalation.toml"
    path.write_text(text.replace("ring = 1 ", "ring = 0 "), encoding="utf-8")
    return path


async def main(args) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="redwall-latency-"))
    with EmbeddedBroker(workdir) as broker, EmbeddedPostgres(workdir / "pg") as postgres:
        settings = Settings.from_env(
            broker=broker.bootstrap,
            database_url=postgres.url,
            web_port=free_port(),
            worker_metrics_port=free_port(),
            sink_metrics_port=free_port(),
            escalation_rules_path=narrow_rules(workdir),
        )
        await ensure_topics(settings)
        await migrate_and_seed(settings)
        worker = RedwallProcess("worker", settings, workdir).start()
        metrics_url = f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"
        try:
            worker.wait_http(metrics_url)
            await measure(settings, args, metrics_url)
        finally:
            worker.stop()
    shutil.rmtree(workdir, ignore_errors=True)


async def measure(settings: Settings, args, metrics_url: str) -> None:
    sent, arrived, stop, ready = {}, {}, asyncio.Event(), asyncio.Event()
    kafka = kafka_options(settings)  # once for this process's clients; the ping load is a process of its own
    tail = asyncio.create_task(tail_alerts(settings, kafka, arrived, stop, ready))
    await ready.wait()
    registry = GridRegistry.from_settings(settings)
    await produce_reports(settings, kafka, 5, 4, {}, registry, first=900_000)  # warm-up: group join, first rebuild
    await asyncio.sleep(3)
    done = multiprocessing.get_context("fork").Queue()
    load = multiprocessing.get_context("fork").Process(
        target=_ping_load, args=(settings, settings.topic_pings, args.pings_per_second, args.seconds, done)
    )
    located_before = located_pings(metrics_url)
    load.start()
    await produce_reports(settings, kafka, args.reports_per_second, args.seconds, sent, registry)
    pings, ping_seconds = await asyncio.to_thread(done.get)
    load.join()
    await asyncio.sleep(5)
    located = located_pings(metrics_url) - located_before
    stop.set()
    await tail
    latencies = sorted((arrived[k] - sent[k]) * 1000 for k in sent if k in arrived)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    print(f"reports: {len(sent)} sent at {args.reports_per_second}/s, {len(latencies)} alerts received")
    print(f"report->alert latency ms: p50 {q[49]:.0f}  p95 {q[94]:.0f}  p99 {q[98]:.0f}  max {latencies[-1]:.0f}")
    halves = [sorted(arrived[k] - sent[k] for k in part if k in arrived) for part in _halves(list(sent))]
    print(
        "p99 by half of the run (ms): "
        + ", ".join(f"{statistics.quantiles(h, n=100)[98] * 1000:.0f}" for h in halves if len(h) > 1)
    )
    print(
        f"ping load: {pings / ping_seconds:,.0f} pings/s produced and acknowledged for {ping_seconds:.1f} s "
        f"(target {args.pings_per_second:,}/s); the worker located {located:,.0f} of {pings:,} within 5 s of the end"
    )


def _halves(keys: list[str]) -> tuple[list[str], list[str]]:
    return keys[: len(keys) // 2], keys[len(keys) // 2 :]


def cli(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.latency", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--pings-per-second", type=int, default=10_000)
    parser.add_argument("--reports-per-second", type=int, default=50)
    asyncio.run(main(parser.parse_args(argv)))


if __name__ == "__main__":
    cli()
