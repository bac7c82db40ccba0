"""A district on one machine: how the worker-bound part (geofence + patrol) scales from one `redwall worker` to two.

    python -m benchmarks.city [--streets 15] [--devices 20000] [--workers 1,2] [--seconds 240]
                              [--per-record 12] [--partitions 4] [--geometry FILE]

Per worker count, on a broker of its own (a fresh Tansu, so no run inherits the last one's offsets or patrol
changelog) beside one embedded PostgreSQL holding a roster of every device: the pings topic is loaded first
(`--seconds` of fixes every 5 s per device, uploaded `--per-record` at a time, as phones send them: most
devices on post in their grid, some walking across grids), then the workers start, and the time they take is
counted from the consumer group's committed offsets: every ping record geofenced and every position record
handled by patrol. The broker's own rate (a plain consumer reading the loaded topic) and the sink's (`redwall
sink` writing the positions to PostgreSQL) are measured apart, and the CPU seconds of each process during each
timed part are printed, so the reader sees which one is the bottleneck and where the cores went. The last
line is `scaling: 2 workers X.XX× 1 worker (N pings/s, M pings/s)`. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from aiokafka import TopicPartition

from benchmarks.city_load import load
from benchmarks.cpu import Meter, cpu_line, find_pid
from benchmarks.patrol import handled, make_roster
from benchmarks.pipeline import reset, wait_rows
from config.major_events import MajorEvents
from config.settings import Settings
from sinks.migrate import migrate_and_seed
from sinks.patrol import store_roster
from streams.app import APP_ID
from streams.demo.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from streams.demo.processes import RedwallProcess
from streams.geofence.registry import GridRegistry
from streams.topics import ensure_topics, read_topic, wait_for_broker


async def broker_alone(settings: Settings, records: int, per_record: int) -> None:
    """A plain aiokafka consumer reading the loaded topic: what the broker serves with no work behind it."""
    meter = Meter({"broker": (broker_pid(settings), False), "reader": (os.getpid(), False)})
    read, started = 0, time.monotonic()
    async with contextlib.aclosing(read_topic(settings, settings.topic_pings)) as stream:
        async for _ in stream:
            read += 1
            if read == records:
                break
    seconds, cpu = time.monotonic() - started, meter.since_start()
    print(
        f"broker alone (a plain consumer): {read / seconds:,.0f} records/s = {read * per_record / seconds:,.0f} "
        f"pings/s; CPU s: {cpu_line(cpu, seconds)}",
        flush=True,
    )


async def committed(admin, topics: tuple[str, ...], partitions: int) -> dict[str, int]:
    """The worker group's committed offsets, summed per topic (each topic is fresh, so from 0)."""
    # Partitions named: Tansu answers the "every partition" form with a reply aiokafka cannot decode.
    wanted = [TopicPartition(t, p) for t in topics for p in range(partitions)]
    offsets = await admin.list_consumer_group_offsets(APP_ID, partitions=wanted)
    return {t: sum(o.offset for tp, o in offsets.items() if tp.topic == t and o.offset > 0) for t in topics}


def start_workers(settings: Settings, count: int, log_dir: Path) -> tuple[list[RedwallProcess], list[str]]:
    """`count` workers, each with ports of its own; their processes and /metrics addresses."""
    procs, metrics = [], []
    for n in range(count):
        s = dataclasses.replace(settings, web_port=free_port(), worker_metrics_port=free_port())
        procs.append(RedwallProcess("worker", s, log_dir, log_name=f"worker{count}-{n}").start())
        metrics.append(f"http://127.0.0.1:{s.worker_metrics_port}/metrics")
    return procs, metrics


async def until(admin, settings: Settings, procs: list[RedwallProcess], done) -> dict[str, int]:
    """Poll the group's commits on pings and positions until `done(commits)`; fail if a worker exits."""
    topics = (settings.topic_pings, settings.topic_positions)
    while not done(commits := await committed(admin, topics, settings.partitions)):
        for proc in procs:
            if proc.exited is not None:
                raise RuntimeError(f"a worker exited with {proc.exited}:\n{proc.log_tail()}")
        await asyncio.sleep(0.25)
    return commits


async def run_workers(
    settings: Settings, count: int, records: int, per_record: int, log_dir: Path
) -> tuple[float, float, int]:
    """Start `count` workers on the loaded topic; time them from their first commit to the last record of
    pings and positions committed; print per-worker and total pings/s and CPU. Returns total pings/s, pings
    per second of the workers' CPU, and the pings committed."""
    launched = time.monotonic()
    procs, metrics = start_workers(settings, count, log_dir)
    admin = await wait_for_broker(settings)
    try:
        first = await until(admin, settings, procs, lambda commits: commits[settings.topic_pings] > 0)
        started = time.monotonic()
        meter = Meter(processes(settings, {f"worker {n + 1}": p for n, p in enumerate(procs)}))
        commits = await until(admin, settings, procs, lambda commits: min(commits.values()) >= records)
        seconds, cpu = time.monotonic() - started, meter.since_start()
        each = [handled(url) for url in metrics]
    finally:
        await admin.close()
        for proc in procs:
            proc.stop()
    pings = commits[settings.topic_pings] * per_record
    per_cpu = pings / sum(cpu[f"worker {n + 1}"] for n in range(count))
    print(
        f"{count} worker{'s' * (count > 1)} (first commit {started - launched:.1f} s after start, "
        f"{first[settings.topic_pings] * per_record:,} pings): {pings:,} pings in "
        f"{seconds:.1f} s = {pings / seconds:,.0f} pings/s, per worker "
        f"{', '.join(f'{n / seconds:,.0f}' for n in each)}; {commits[settings.topic_positions]:,} position records "
        f"handled by patrol; {per_cpu:,.0f} pings per worker CPU "
        f"second; CPU s: {cpu_line(cpu, seconds)}",
        flush=True,
    )
    return pings / seconds, per_cpu, pings


def processes(settings: Settings, workers: dict[str, RedwallProcess]) -> dict[str, tuple[int, bool]]:
    """What a Meter follows during a timed part: these Redwall processes, the broker, PostgreSQL, this one."""
    found = {name: (proc.proc.pid, False) for name, proc in workers.items()}
    found["broker"] = (broker_pid(settings), False)
    # The postmaster of this database (embedded: its socket folder, in the URL, is its data folder), with its backends.
    postmaster = find_pid("postgres", f"-D {settings.database_dsn.split('host=')[-1]} ")
    if postmaster is not None:
        found["postgres"] = (postmaster, True)
    found["benchmark"] = (os.getpid(), False)
    return found


def broker_pid(settings: Settings) -> int:
    return find_pid("--listener-url", f"tcp://{settings.broker} ")


async def sink_alone(settings: Settings, pings: int, log_dir: Path) -> None:
    """`redwall sink` writing the last run's positions to PostgreSQL: rows/s from its first row to the last."""
    await reset(settings.database_dsn)
    sink = RedwallProcess("sink", settings, log_dir).start()
    try:
        sink.wait_http(f"http://127.0.0.1:{settings.sink_metrics_port}/metrics", timeout=120)
        await wait_rows(settings.database_dsn, 1, 120)
        started = time.monotonic()
        meter = Meter(processes(settings, {"sink": sink}))
        finished = await wait_rows(settings.database_dsn, pings, 900)
        seconds, cpu = finished - started, meter.since_start()
    finally:
        sink.stop()
    print(f"sink alone: {pings / seconds:,.0f} rows/s; CPU s: {cpu_line(cpu, seconds)}", flush=True)


async def fresh_roster(dsn: str, roster) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE patrol_status, patrol_events")
        await store_roster(conn, roster, MajorEvents(()))
    finally:
        await conn.close()


async def one_count(
    settings: Settings, args, registry, roster, count: int, work: Path, last: bool
) -> tuple[float, float]:
    """One worker count on a broker of its own: load, (first) the broker alone, the workers, (last) the sink."""
    with EmbeddedBroker(work, free_port()) as broker:
        s = dataclasses.replace(settings, broker=broker.bootstrap)
        await ensure_topics(s)
        await fresh_roster(s.database_dsn, roster)
        records = load(s, args, registry)
        if count == args.workers[0]:
            await broker_alone(s, len(records), args.per_record)
        rate, per_cpu, pings = await run_workers(s, count, len(records), args.per_record, work)
        if last:  # the positions the workers made: a run that stopped short ends with its short count printed
            await sink_alone(s, pings, work)
    return rate, per_cpu


def geometry(args) -> Path:
    if args.geometry is not None:
        return args.geometry
    from config.sample.district import district_path  # made on demand, the first time a district is asked for

    return district_path(args.streets)


async def main(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="redwall-bench-city-"))
    try:
        with EmbeddedPostgres(work / "pg") as postgres:
            # No major-event period: the sample's name the sample street's grids, and none would be in force.
            (work / "major_events.toml").write_text("")
            settings = Settings.from_env(
                database_url=postgres.url,
                geometry_path=geometry(args),
                major_events_path=work / "major_events.toml",
                partitions=args.partitions,
                sink_metrics_port=free_port(),
                report_at="off",  # the weekly 专报 is not what the sink is timed on
            )
            await migrate_and_seed(settings)
            registry = GridRegistry.from_settings(settings)  # built and cached here, so no worker builds it
            print(
                f"{len(registry.streets)} streets, {len(registry.grids):,} grids, {args.devices:,} devices, "
                f"{args.partitions} partitions, {os.cpu_count()} cores",
                flush=True,
            )
            roster = make_roster(registry, args.devices)
            rates = {}
            for n, count in enumerate(args.workers):
                rates[count] = await one_count(
                    settings, args, registry, roster, count, work, n == len(args.workers) - 1
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if 1 in rates and 2 in rates:
        (one, one_cpu), (two, two_cpu) = rates[1], rates[2]
        # On a machine shared with other jobs the wall-clock ratio says how much CPU was left over; the cost
        # per ping says what two workers would do with a core each.
        print(
            f"pings per worker CPU second: 1 worker {one_cpu:,.0f}, 2 workers {two_cpu:,.0f}; with a core each, "
            f"2 workers would do {2 * two_cpu / one_cpu:.2f}× 1 worker",
            flush=True,
        )
        print(f"scaling: 2 workers {two / one:.2f}× 1 worker ({one:.0f} pings/s, {two:.0f} pings/s)", flush=True)


def cli(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.city", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streets", type=int, default=15, help="streets of the sample district")
    parser.add_argument("--geometry", type=Path, help="a geometry file instead of the sample district")
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--workers", default="1,2", type=lambda v: [int(w) for w in v.split(",")])
    parser.add_argument("--seconds", type=int, default=240, help="seconds of fixes each device uploads")
    parser.add_argument("--per-record", type=int, default=12, help="fixes per upload (a minute's)")
    parser.add_argument("--moving", type=float, default=0.1, help="share of devices walking across grids")
    parser.add_argument("--partitions", type=int, default=4, help="partitions per topic")
    asyncio.run(main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(cli())
