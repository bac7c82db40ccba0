"""The pings a district's phones upload, for benchmarks.city: every device's fixes every 5 s, a minute's at a
time, most devices on post near a spot in their roster grid, some walking across grids; produced from a
process of their own before the workers start, so the load generator takes no CPU from what is timed."""

from __future__ import annotations

import math
import random
import resource
import time
from datetime import UTC, datetime, timedelta

from benchmarks.pipeline import start_producer
from config.settings import Settings
from schemas import json
from streams.demo.simulator import GridSampler
from streams.geofence.registry import GridRegistry

FIX_SECONDS = 5  # a phone on duty takes a fix every 5 s
WALK_DEGREES = (5.9e-5, 7.6e-5)  # 6.5 m, one fix of walking at 1.3 m/s, in latitude and longitude at 40° N


def make_load(registry: GridRegistry, devices: int, seconds: int, per_record: int, moving: float, start: datetime):
    """PingBatch records, upload by upload: every device's first batch, then every second one, and so on.
    A device stays near a spot in its roster grid (benchmarks.patrol.make_roster), or a `moving` share walks
    a straight line from there, across grids."""
    rng = random.Random(7)
    sampler, grids = GridSampler(registry, rng), list(registry.grids)
    spots = {g: [sampler.point_in(g) for _ in range(10)] for g in grids}
    homes = [rng.choice(spots[grids[i % len(grids)]]) for i in range(devices)]
    walks = [rng.uniform(0, 2 * math.pi) if rng.random() < moving else None for _ in range(devices)]
    records = []
    for upload in range(max(1, seconds // (FIX_SECONDS * per_record))):
        for i, ((lat, lng), heading) in enumerate(zip(homes, walks)):
            pings = []
            for k in range(upload * per_record, (upload + 1) * per_record):
                if heading is not None:
                    lat, lng = lat + WALK_DEGREES[0] * math.sin(heading), lng + WALK_DEGREES[1] * math.cos(heading)
                    homes[i] = (lat, lng)
                fix = (start + timedelta(seconds=k * FIX_SECONDS + i % FIX_SECONDS)).isoformat()
                jitter = rng.gauss(0, 2e-5), rng.gauss(0, 2e-5)
                pings.append({"lat": lat + jitter[0], "lng": lng + jitter[1], "accuracy": 8.0, "time": fix})
            name = f"bench-{i:06d}"
            records.append((name.encode(), json.dumps({"device": name, "pings": pings})))
    return records


def load(settings: Settings, args, registry: GridRegistry) -> list:
    """Generate a run's pings (stamped up to now, so none is stale when handled) and produce them from a
    process of their own; print what that took."""
    start = datetime.now(UTC) - timedelta(seconds=args.seconds)
    records = make_load(registry, args.devices, args.seconds, args.per_record, args.moving, start)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    start_producer(settings, settings.topic_pings, records).join()
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    pings = len(records) * args.per_record
    print(
        f"load: {len(records):,} records ({pings:,} pings) produced in {seconds:.1f} s = {pings / seconds:,.0f} "
        f"pings/s; the load generator used {cpu:.1f} CPU s, and none during the timed runs",
        flush=True,
    )
    return records
