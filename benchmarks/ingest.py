"""What the worker's HTTP edge costs: phones' ping batches posted to `POST /v1/pings` of one `redwall worker`.

    python -m benchmarks.ingest [--devices 2000] [--seconds 60] [--per-record 12] [--concurrency 32]

On its own broker and PostgreSQL (as benchmarks.city starts them), with a device token issued for every device
and the devices on the roster, an aiohttp client keeps `--concurrency` requests in flight for `--seconds`, each
a device's `--per-record` fixes (a minute's) inside its roster grid, stamped now. It prints requests/s and
pings/s accepted (202), refusals by status, p50/p95 request latency, and the CPU seconds of the worker and of
the client (this process) over the posting.

The worker consumes its own pings topic, so its CPU covers the edge (authenticate, parse, validate, produce)
and the geofence + patrol of what it accepted; the posting is followed by a drain until the worker group has
committed every accepted ping and its position. To give the edge alone, the same number of ping records is
then loaded onto a fresh broker and a fresh worker consumes them with no HTTP (benchmarks.city's run), which
gives geofence + patrol's cost per ping on this machine; that share is subtracted. The device rate limit is off
(`REDWALL_DEVICE_RATE_PER_SECOND=0`): each device posts far more often than a phone would. Last line:
`ingest: N pings/s accepted, M pings per worker CPU second`. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import itertools
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from benchmarks.city import broker_pid, fresh_roster, run_workers, until
from benchmarks.city_load import FIX_SECONDS, load
from benchmarks.cpu import Meter, cpu_line
from benchmarks.patrol import make_roster
from config.settings import Settings
from schemas import json
from sinks.migrate import migrate_and_seed
from streams.demo.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from streams.demo.processes import RedwallProcess
from streams.demo.simulator import GridSampler, device_tokens
from streams.geofence.registry import GridRegistry
from streams.topics import ensure_topics, wait_for_broker


@dataclasses.dataclass
class Posted:
    """What the client saw: answers by status, latencies of every answered request, pings accepted."""

    statuses: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    latencies: list[float] = dataclasses.field(default_factory=list)
    pings: int = 0


def batch(device: str, home: tuple[float, float], per_record: int, rng: random.Random) -> bytes:
    """A device's last minute of fixes near its spot, the newest stamped now."""
    now = datetime.now(UTC)
    pings = [
        {
            "lat": home[0] + rng.gauss(0, 2e-5),
            "lng": home[1] + rng.gauss(0, 2e-5),
            "accuracy": 8.0,
            "time": (now - timedelta(seconds=FIX_SECONDS * (per_record - 1 - k))).isoformat(timespec="milliseconds"),
        }
        for k in range(per_record)
    ]
    return json.dumps({"device": device, "pings": pings})


async def post_for(url: str, tokens: dict[str, str], homes: list, args) -> Posted:
    """`args.concurrency` requests in flight for `args.seconds`, devices in turn."""
    posted, rng, devices = Posted(), random.Random(11), itertools.cycle(enumerate(tokens))
    deadline = time.monotonic() + args.seconds

    async def one_at_a_time(http: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            i, device = next(devices)
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {tokens[device]}"}
            sent = time.monotonic()
            async with http.post(url, data=batch(device, homes[i], args.per_record, rng), headers=headers) as resp:
                await resp.read()
            posted.latencies.append(time.monotonic() - sent)
            posted.statuses[resp.status] += 1
            posted.pings += args.per_record * (resp.status == 202)

    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(one_at_a_time(http) for _ in range(args.concurrency)))
    return posted


def report(posted: Posted, seconds: float, cpu: dict[str, float]) -> None:
    accepted = posted.statuses[202]
    refused = ", ".join(f"{s}: {n:,}" for s, n in sorted(posted.statuses.items()) if s != 202) or "none"
    p50, p95 = (statistics.quantiles(posted.latencies, n=100)[q] * 1000 for q in (49, 94))
    print(
        f"posting {seconds:.1f} s: {accepted / seconds:,.0f} requests/s = {posted.pings / seconds:,.0f} pings/s "
        f"accepted (202: {accepted:,}); refused {refused}; latency p50 {p50:.1f} ms, p95 {p95:.1f} ms; "
        f"CPU s: {cpu_line(cpu, seconds)}",
        flush=True,
    )


async def edge_run(settings: Settings, args, registry: GridRegistry, work: Path) -> tuple[int, int, float, float]:
    """One worker answering the client, then drained. Returns records and pings accepted, the seconds of
    posting, and the worker's CPU seconds over the posting and the drain."""
    devices = [f"bench-{i:06d}" for i in range(args.devices)]
    tokens = await device_tokens(settings, devices, None)  # issued before the worker loads its credentials
    sampler = GridSampler(registry, random.Random(7))
    grids = list(registry.grids)
    homes = [sampler.point_in(grids[i % len(grids)]) for i in range(args.devices)]
    s = dataclasses.replace(settings, web_port=free_port(), worker_metrics_port=free_port(), device_rate_per_second=0)
    worker = RedwallProcess("worker", s, work, log_name="worker-edge").start()
    admin = await wait_for_broker(s)
    try:
        worker.wait_http(f"http://127.0.0.1:{s.worker_metrics_port}/metrics", timeout=120)
        meter = Meter(
            {"worker": (worker.proc.pid, False), "broker": (broker_pid(s), False), "client": (os.getpid(), False)}
        )
        started = time.monotonic()
        posted = await post_for(f"http://127.0.0.1:{s.web_port}/v1/pings", tokens, homes, args)
        seconds, cpu = time.monotonic() - started, meter.since_start()
        report(posted, seconds, cpu)
        records = posted.statuses[202]
        await until(admin, s, [worker], lambda commits: min(commits.values()) >= records)
        drained = time.monotonic() - started - seconds
        total = meter.since_start()["worker"]
    finally:
        await admin.close()
        worker.stop()
    print(
        f"drain: every accepted ping geofenced and handled by patrol {drained:.1f} s after the posting; the worker "
        f"used {total:.1f} CPU s over both",
        flush=True,
    )
    return records, posted.pings, seconds, total


async def consume_run(settings: Settings, args, registry: GridRegistry, records: int, work: Path) -> float:
    """Geofence + patrol alone: as many records loaded onto a fresh broker, one worker consuming them.
    Returns pings per worker CPU second."""
    uploads = max(1, math.ceil(records / args.devices))
    load_args = argparse.Namespace(
        devices=args.devices, seconds=uploads * FIX_SECONDS * args.per_record, per_record=args.per_record, moving=0.0
    )
    with EmbeddedBroker(work, free_port()) as broker:
        s = dataclasses.replace(settings, broker=broker.bootstrap)
        await ensure_topics(s)
        loaded = load(s, load_args, registry)
        return (await run_workers(s, 1, len(loaded), args.per_record, work))[1]


async def main(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="redwall-bench-ingest-"))
    try:
        with EmbeddedPostgres(work / "pg") as postgres:
            (work / "major_events.toml").write_text("")  # no major event: the worker's usual state
            settings = Settings.from_env(
                database_url=postgres.url, major_events_path=work / "major_events.toml", report_at="off"
            )
            await migrate_and_seed(settings)
            registry = GridRegistry.from_settings(settings)
            print(f"{len(registry.grids)} grids, {args.devices:,} devices, {os.cpu_count()} cores", flush=True)
            await fresh_roster(settings.database_dsn, make_roster(registry, args.devices))
            with EmbeddedBroker(work, free_port()) as broker:
                s = dataclasses.replace(settings, broker=broker.bootstrap)
                await ensure_topics(s)
                records, pings, seconds, worker_cpu = await edge_run(s, args, registry, work)
            await fresh_roster(settings.database_dsn, make_roster(registry, args.devices))
            consume_per_cpu = await consume_run(settings, args, registry, records, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summarize(pings, seconds, worker_cpu, consume_per_cpu)


def summarize(pings: int, seconds: float, worker_cpu: float, consume_per_cpu: float) -> None:
    """The edge alone: the worker's CPU less what geofence + patrol of the same pings cost on their own."""
    edge_cpu = worker_cpu - pings / consume_per_cpu
    edge = f"{pings / edge_cpu:,.0f}" if edge_cpu > 0 else "not separable (within the noise)"
    print(
        f"per worker CPU second: {pings / worker_cpu:,.0f} pings edge + geofence + patrol; geofence + patrol alone "
        f"{consume_per_cpu:,.0f}; so the edge alone {edge} pings ({max(edge_cpu, 0):.1f} of {worker_cpu:.1f} CPU s)",
        flush=True,
    )
    print(f"ingest: {pings / seconds:.0f} pings/s accepted, {pings / worker_cpu:.0f} pings per worker CPU second")


def cli(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60, help="seconds of posting")
    parser.add_argument("--per-record", type=int, default=12, help="fixes per batch (a minute's)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    asyncio.run(main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(cli())
