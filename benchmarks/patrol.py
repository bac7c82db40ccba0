"""The patrol monitor with 100,000 devices: pings/s and the memory of its state, in one worker and in two.

    python -m benchmarks.patrol [--devices 100000] [--per-record 5] [--rounds 2] [--workers 1,2]
                                [--skip-workers | --skip-in-process] [--profile-memory]

Part 1 runs `PatrolMonitor` in this process on the records the workers get (no Kafka): the ceiling of
the detector, and the bytes its device state takes (tracemalloc). Part 2 starts a broker and Postgres,
loads a roster of every device, and feeds geofenced PositionBatch records straight into the positions
topic of `redwall worker` processes; pings/s is counted by their own metric from the first record
produced to the last ping handled, and RSS is read from /proc before and after. Round 1 is every
device's first sight (two status changes each, one table write); later rounds are steady state.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import random
import re
import shutil
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from benchmarks.pipeline import start_producer
from config.major_events import MajorEvents
from config.roster import build_roster
from config.settings import Settings
from schemas import json
from sinks.migrate import migrate_and_seed
from sinks.patrol import store_roster
from streams.clock import SystemClock
from streams.demo.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from streams.demo.processes import RedwallProcess
from streams.demo.simulator import GridSampler
from streams.geofence.registry import GridRegistry
from streams.patrol.monitor import PatrolMonitor
from streams.topics import ensure_topics


def make_roster(registry: GridRegistry, devices: int):
    grids = list(registry.grids)
    workers = [
        {
            "device": f"bench-{i:06d}",
            "name": f"巡逻 {i}",
            "role": "volunteer",
            "grid": grids[i % len(grids)],
            "shifts": ["all-day"],
        }
        for i in range(devices)
    ]
    return build_roster("Asia/Shanghai", [{"id": "all-day", "start": "00:00", "end": "23:59:59"}], workers, "benchmark")


def make_rounds(registry: GridRegistry, devices: int, per_record: int, rounds: int, start: datetime) -> list[list]:
    """Per round, one PositionBatch per device: fixes a second apart near a home spot in its grid."""
    rng = random.Random(3)
    sampler, grids = GridSampler(registry, rng), list(registry.grids)
    spots = {g: [sampler.point_in(g) for _ in range(20)] for g in grids}
    homes = [rng.choice(spots[grids[i % len(grids)]]) for i in range(devices)]
    out = []
    for r in range(rounds):
        records = []
        for i, (lat, lng) in enumerate(homes):
            pings = []
            for k in range(per_record):
                t = start + timedelta(seconds=r * per_record + k)
                plat, plng = lat + rng.gauss(0, 2e-5), lng + rng.gauss(0, 2e-5)
                place = registry.locate(plat, plng)
                pings.append(
                    {
                        "lat": plat,
                        "lng": plng,
                        "accuracy": 5.0,
                        "time": t.isoformat(),
                        "street": place.street,
                        "community": place.community,
                        "grid": place.grid,
                    }
                )
            name = f"bench-{i:06d}"
            records.append((name.encode(), json.dumps({"device": name, "pings": pings})))
        out.append(records)
    return out


def in_process(settings: Settings, registry: GridRegistry, roster, rounds: list[list]) -> None:
    # A changelog name, so the changelog records of status changes are made as in a worker.
    monitor = PatrolMonitor(
        settings, registry, SystemClock(), changelog="bench-changelog", partition_of=lambda device: 0
    )
    monitor.roster, monitor.events = roster, MajorEvents(())
    for n, records in enumerate(rounds, 1):
        pings = sum(len(json.loads(v)["pings"]) for _, v in records)
        started = time.perf_counter()
        outs = sum(len(monitor.positions(value)) for _, value in records)
        outs += len(monitor.changelog_records())
        seconds = time.perf_counter() - started
        print(
            f"in-process round {n}: {pings:,} pings in {seconds:.2f} s = {pings / seconds:,.0f} pings/s, "
            f"{outs:,} output records"
        )
    # Memory on a fresh monitor, apart: tracemalloc slows everything down two- to threefold.
    fresh = PatrolMonitor(settings, registry, SystemClock(), changelog="bench-changelog", partition_of=lambda device: 0)
    fresh.roster, fresh.events = roster, MajorEvents(())
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _, value in rounds[0]:
        fresh.positions(value)
    fresh.changelog_records()
    state_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    ticks = []
    for _ in range(2):  # the first finds every device's next deadline, the second only compares times
        started = time.perf_counter()
        monitor.tick(list(roster.workers), datetime.now(UTC))
        ticks.append(time.perf_counter() - started)
    print(
        f"in-process state: {len(monitor.states):,} devices, {state_bytes / 2**20:.1f} MiB traced "
        f"({state_bytes / len(monitor.states):.0f} B/device); a timer tick over all: "
        f"{ticks[0]:.2f} s, then {ticks[1]:.2f} s"
    )


def rss_mib(process: RedwallProcess, field: str = "VmRSS") -> float:
    """RSS now, or with VmHWM its high-water mark: what a transient peak left the process holding."""
    status = Path(f"/proc/{process.proc.pid}/status").read_text()
    return int(re.search(field + r":\s+(\d+) kB", status).group(1)) / 1024


def handled(metrics_url: str) -> float:
    text = urllib.request.urlopen(metrics_url, timeout=600).read().decode()  # long: traced workers are slow
    return sum(float(v) for v in re.findall(r"^redwall_patrol_pings_total\{[^}]*\} ([0-9.e+]+)$", text, re.M))


def print_memory(url: str, top: int = 12) -> None:
    """The worker's own tracemalloc report (streams/memory_profile.py): where its memory went."""
    report = json.loads(urllib.request.urlopen(f"{url}/debug/memory?top={top}", timeout=300).read())
    print(f"  traced {report['traced_mib']:.0f} MiB (peak {report['peak_mib']:.0f}), RSS {report['rss_mib']:.0f} MiB")
    for kind in ("by_file", "by_line"):
        for site in report[kind]:
            print(f"  {kind[3:]:>4} {site['mib']:8.1f} MiB {site['blocks']:>9,} blocks  {site['site']}")


async def with_workers(
    settings: Settings, roster, rounds: list[list], workers: int, log_dir: Path, profile: bool = False
) -> None:
    conn = await asyncpg.connect(settings.database_dsn)
    await conn.execute("TRUNCATE patrol_status, patrol_events")
    await store_roster(conn, roster, MajorEvents(()))
    await conn.close()
    procs, urls, metrics = [], [], []
    for n in range(workers):
        port = free_port()
        s = dataclasses.replace(settings, web_port=port, worker_metrics_port=free_port())
        proc = RedwallProcess("worker", s, log_dir / f"w{workers}-{n}")
        if profile:
            proc.env["PYTHONTRACEMALLOC"] = "1"
        procs.append(proc.start())
        urls.append(f"http://{s.web_host}:{port}")
        metrics.append(f"http://127.0.0.1:{s.worker_metrics_port}/metrics")
    try:
        for proc, url in zip(procs, metrics):
            proc.wait_http(url, timeout=120)
        await asyncio.sleep(8)  # group join and assignment
        base = [rss_mib(p) for p in procs]
        print(f"{workers} worker(s): RSS at start {', '.join(f'{r:.0f}' for r in base)} MiB")
        total = 0
        for n, records in enumerate(rounds, 1):
            pings = len(records) * len(json.loads(records[0][1])["pings"])
            total += pings
            started = time.monotonic()
            producer = start_producer(settings, settings.topic_positions, records)
            producer.join()
            produced = time.monotonic() - started
            while sum(handled(u) for u in metrics) < total:
                time.sleep(0.5)  # /metrics costs the worker CPU: poll it gently
            seconds = time.monotonic() - started
            rss = [rss_mib(p) for p in procs]
            peaks = ", ".join(f"{rss_mib(p, 'VmHWM'):.0f}" for p in procs)
            print(
                f"{workers} worker(s) round {n}: {pings:,} pings in {seconds:.2f} s = {pings / seconds:,.0f} pings/s "
                f"(producer alone {produced:.2f} s); RSS {', '.join(f'{r:.0f}' for r in rss)} MiB, growth "
                f"{', '.join(f'{r - b:+.0f}' for r, b in zip(rss, base))} MiB, peak {peaks} MiB"
            )
            for url in urls if profile else ():
                print_memory(url)
    finally:
        for proc in procs:
            proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--per-record", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-workers", action="store_true", help="only the in-process part")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1 or 1,2")
    parser.add_argument("--skip-in-process", action="store_true", help="only the worker part")
    parser.add_argument(
        "--profile-memory",
        action="store_true",
        help="trace the workers' allocations and print the top sites after each round (slow)",
    )
    args = parser.parse_args()
    settings = Settings.from_env()
    registry = GridRegistry.from_settings(settings)
    roster = make_roster(registry, args.devices)
    start = datetime.now(UTC) - timedelta(seconds=60)
    rounds = make_rounds(registry, args.devices, args.per_record, args.rounds, start)
    if not args.skip_in_process:
        in_process(settings, registry, roster, rounds)
    if args.skip_workers:
        return
    work = Path(tempfile.mkdtemp(prefix="redwall-bench-patrol-"))
    try:
        with EmbeddedBroker(work / "tansu") as broker:
            postgres = EmbeddedPostgres(work / "pg").start()
            try:
                s = Settings.from_env(broker=broker.bootstrap, database_url=postgres.url, sink_metrics_port=free_port())
                asyncio.run(migrate_and_seed(s))
                asyncio.run(ensure_topics(s))
                for n, workers in enumerate(int(w) for w in args.workers.split(",")):
                    (work / f"logs{n}").mkdir()
                    # Fresh topics per run, so the second run does not start on the first one's records.
                    topics = {
                        "topic_positions": f"bench{n}.positions",
                        "topic_patrol": f"bench{n}.patrol",
                        "topic_alerts": f"bench{n}.alerts",
                    }
                    run = dataclasses.replace(s, **topics)
                    asyncio.run(ensure_topics(run))
                    for w in range(workers):
                        (work / f"logs{n}" / f"w{workers}-{w}").mkdir()
                    asyncio.run(with_workers(run, roster, rounds, workers, work / f"logs{n}", args.profile_memory))
            finally:
                postgres.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
