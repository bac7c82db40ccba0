"""Simulated field devices: workers walking their grids, uploading GPS batches and filing reports.

Phones go through the HTTP ingest API, as real ones do. With `bad_records`, a share of the reports is
spoiled (refused with 422) and malformed records are written straight to Kafka, as a buggy device
publishing with kcat would, so the dead-letter path runs too.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path

import aiohttp
import asyncpg

from config.crs import METRES_PER_DEGREE, metres_per_degree_lng
from config.settings import Settings
from schemas import json
from schemas.records import CATEGORIES, SEVERITIES
from sinks.credentials import issue_device_token
from streams.cli.credentials import read_token_file
from streams.clock import stop_on_signals, stopped_within
from streams.demo import bad_records
from streams.demo.errands import POLL_SECONDS, Errand, done_note, next_errand
from streams.geofence.registry import GridRegistry

log = logging.getLogger(__name__)

WALK_SPEED_MPS = 1.3
REPORTS_PER_DEVICE_PER_MINUTE = 0.4  # the default: a load test, far above a street's ~2,000 a month
INVALID_REPORT_SHARE = 0.1
RAW_GARBAGE_EVERY_SECONDS = 10.0


@dataclass
class Stats:
    pings_accepted: int = 0
    reports_accepted: int = 0
    reports_refused: int = 0
    raw_malformed: int = 0
    upload_retries: int = 0
    tasks_done: int = 0

    def line(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.__dict__.items())


@dataclass
class Device:
    id: str
    grid: str
    lat: float
    lng: float
    target: tuple[float, float]
    pending: list[dict] = field(default_factory=list)
    errand: Errand | None = None  # a task it is on
    finished: set[str] = field(default_factory=set)
    looked_at: float = 0.0  # when it last read its tasks (monotonic)


class GridSampler:
    """Uniform random points inside one grid, by rejection inside the grid's bounding box."""

    def __init__(self, registry: GridRegistry, rng: random.Random):
        self.registry, self.rng = registry, rng
        self.boxes = {}
        for grid_id, area in registry.grids.items():
            lngs = [p[0] for ring in area.rings for p in ring]
            lats = [p[1] for ring in area.rings for p in ring]
            self.boxes[grid_id] = (min(lats), max(lats), min(lngs), max(lngs))

    def point_in(self, grid_id: str) -> tuple[float, float]:
        lat0, lat1, lng0, lng1 = self.boxes[grid_id]
        for _ in range(1000):
            lat, lng = self.rng.uniform(lat0, lat1), self.rng.uniform(lng0, lng1)
            if self.registry.locate(lat, lng).grid == grid_id:
                return lat, lng
        raise ValueError(f"grid {grid_id}: found no interior point; is its polygon degenerate?")


class FieldSimulator:
    def __init__(
        self,
        registry: GridRegistry,
        settings: Settings,
        url: str,
        *,
        devices: int,
        ping_interval: float,
        upload_every: int,
        seed: int,
        reports_per_minute: float | None = None,
        bad_records: bool = False,
        kafka: dict | None = None,
    ):
        self.registry, self.settings, self.url = registry, settings, url.rstrip("/")
        self.kafka = kafka  # for the garbage records' producer; None: built from the settings
        self.rng = random.Random(seed)
        self.sampler = GridSampler(registry, self.rng)
        self.ping_interval, self.upload_every, self.bad_records = ping_interval, upload_every, bad_records
        per_device = (
            REPORTS_PER_DEVICE_PER_MINUTE if reports_per_minute is None else reports_per_minute / max(devices, 1)
        )
        self.report_chance = per_device * ping_interval / 60  # per fix taken
        self.devices = []
        order = walk_order(registry.geometry)
        for i in range(devices):
            grid = assigned_grid(i, order)
            lat, lng = self.sampler.point_in(grid)
            self.devices.append(Device(device_id(i), grid, lat, lng, self.sampler.point_in(grid)))
        self.stats = Stats()
        self.tokens: dict[str, str] = {}  # device id -> its bearer token

    async def run(self, stop: asyncio.Event) -> Stats:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as self.http:
            tasks = [asyncio.create_task(self.walk(d, stop)) for d in self.devices]
            if self.bad_records:
                tasks.append(asyncio.create_task(self.malformed(stop)))
            await asyncio.gather(*tasks)
        return self.stats

    async def walk(self, device: Device, stop: asyncio.Event) -> None:
        await stopped_within(stop, self.rng.uniform(0, self.ping_interval))
        while not stop.is_set():
            self.step(device)
            device.pending.append(self.fix(device))
            if len(device.pending) >= self.upload_every:
                await self.upload(device)
            if self.rng.random() < self.report_chance:
                await self.file_report(device)
            await self.run_errand(device)
            await stopped_within(stop, self.ping_interval)
        if device.pending:
            await self.upload(device)

    async def run_errand(self, device: Device) -> None:
        """Read the phone's tasks now and then, accept a new one, and say done once it has stayed there."""
        now = asyncio.get_running_loop().time()
        if device.errand is None and now - device.looked_at >= POLL_SECONDS:
            device.looked_at = now
            device.errand = next_errand(await self.tasks_of(device), device.finished)
        errand = device.errand
        if errand is None:
            return
        if not errand.accepted:
            errand.accepted = (
                await self.post(f"/v1/tasks/{errand.task}/actions", {"action": "accept"}, device.id) == 202
            )
        elif (
            errand.done(now)
            and await self.post(f"/v1/tasks/{errand.task}/actions", done_note(errand.task), device.id) == 202
        ):
            device.finished.add(errand.task)
            device.errand = None
            self.stats.tasks_done += 1

    async def tasks_of(self, device: Device) -> list[dict]:
        headers = {"Authorization": f"Bearer {self.tokens.get(device.id, '')}"}
        try:
            async with self.http.get(self.url + "/v1/tasks", headers=headers) as resp:
                return (await resp.json())["tasks"] if resp.status == 200 else []
        except (TimeoutError, aiohttp.ClientError, ValueError, KeyError) as error:
            log.debug("reading tasks failed: %s", error)
            return []

    def step(self, device: Device) -> None:
        errand = device.errand
        if errand is not None and errand.accepted:
            device.target = errand.target
        dlat = (device.target[0] - device.lat) * METRES_PER_DEGREE
        dlng = (device.target[1] - device.lng) * metres_per_degree_lng(device.lat)
        distance = math.hypot(dlat, dlng)
        stride = WALK_SPEED_MPS * self.ping_interval
        if distance <= stride:
            device.lat, device.lng = device.target
            if errand is not None and errand.accepted:  # at the task's place: stay
                if errand.there_since is None:
                    errand.there_since = asyncio.get_running_loop().time()
                return
            device.target = self.sampler.point_in(device.grid)
        else:
            device.lat += (device.target[0] - device.lat) * stride / distance
            device.lng += (device.target[1] - device.lng) * stride / distance

    def fix(self, device: Device) -> dict:
        accuracy = round(self.rng.uniform(3, 12), 1)
        noise = accuracy / 3 / METRES_PER_DEGREE
        return {
            "lat": round(device.lat + self.rng.gauss(0, noise), 7),
            "lng": round(device.lng + self.rng.gauss(0, noise), 7),
            "accuracy": accuracy,
            "time": _now(),
            "speed": WALK_SPEED_MPS,
            "battery": round(self.rng.uniform(20, 100)),
        }

    async def upload(self, device: Device) -> None:
        batch = {"device": device.id, "pings": device.pending}
        if await self.post("/v1/pings", batch, device.id) == 202:
            self.stats.pings_accepted += len(device.pending)
            device.pending = []
        # Otherwise the fixes stay pending and ride along with the next upload: nothing is lost.

    async def file_report(self, device: Device) -> None:
        report = {
            "id": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "device": device.id,
            "category": self.rng.choice(CATEGORIES),
            "severity": self.rng.choices(SEVERITIES, weights=(5, 3, 2, 1))[0],
            "text": f"{device.grid} 巡查发现 / patrol finding",
            "location": {"lat": round(device.lat, 7), "lng": round(device.lng, 7), "accuracy": 5.0},
            "event_time": _now(),
        }
        if self.bad_records and self.rng.random() < INVALID_REPORT_SHARE:
            report = bad_records.spoiled(report, self.rng)
        status = await self.post("/v1/reports", report, device.id)
        if status == 202:
            self.stats.reports_accepted += 1
        elif status is not None and 400 <= status < 500:
            self.stats.reports_refused += 1

    async def post(self, path: str, body, device: str) -> int | None:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.tokens.get(device, '')}"}
        for attempt in range(4):
            try:
                async with self.http.post(self.url + path, data=json.dumps(body), headers=headers) as resp:
                    await resp.read()
                    if resp.status < 500:
                        return resp.status
            except (TimeoutError, aiohttp.ClientError) as error:
                log.debug("upload to %s failed: %s", path, error)
            self.stats.upload_retries += 1
            await asyncio.sleep(0.5 * 2**attempt)
        return None

    async def malformed(self, stop: asyncio.Event) -> None:
        async for _ in bad_records.publish_garbage(self.settings, stop, RAW_GARBAGE_EVERY_SECONDS, kafka=self.kafka):
            self.stats.raw_malformed += 1


def device_id(i: int) -> str:
    """The id of the i-th simulated phone (from 0): dev-0001, dev-0002, ..."""
    return f"dev-{i + 1:04d}"


def assigned_grid(i: int, grids: list[str]) -> str:
    """The grid the i-th simulated phone walks (grids in `walk_order`), as the roster has it."""
    return grids[i % len(grids)]


def walk_order(geometry) -> list[str]:
    """The grids phones are given in turn: one of each street in turn, each street's in file order, so that a
    district's phones spread over all its streets (a one-street map: the file's order)."""
    by_street = {street: [] for street in geometry.streets}
    for grid, area in geometry.grids.items():
        by_street[geometry.communities[area.parent].parent].append(grid)
    return [grid for turn in zip_longest(*by_street.values()) for grid in turn if grid is not None]


async def device_tokens(settings: Settings, devices: list[str], path: Path | None) -> dict[str, str]:
    """From the `ID TOKEN` file the demo hands over, or else fresh tokens issued in Postgres (which
    revokes any live ones of these ids: the simulator is the only holder of a simulated device's token)."""
    if path is not None:
        return read_token_file(path)
    async with asyncpg.create_pool(settings.database_dsn, min_size=1, max_size=4) as pool:
        tokens = await asyncio.gather(*[issue_device_token(pool, device) for device in devices])
    log.info("issued credentials for %d simulated devices", len(devices))
    return dict(zip(devices, tokens))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def run_simulator(
    settings: Settings,
    *,
    url: str,
    devices: int,
    duration: float | None,
    ping_interval: float,
    upload_every: int,
    seed: int,
    tokens: Path | None = None,
    reports_per_minute: float | None = None,
    bad_records: bool = False,
    kafka: dict | None = None,
) -> int:
    async def main() -> Stats:
        stop = stop_on_signals(duration)
        simulator = FieldSimulator(
            GridRegistry.from_settings(settings),
            settings,
            url,
            devices=devices,
            ping_interval=ping_interval,
            upload_every=upload_every,
            seed=seed,
            reports_per_minute=reports_per_minute,
            bad_records=bad_records,
            kafka=kafka,
        )
        simulator.tokens = await device_tokens(settings, [d.id for d in simulator.devices], tokens)
        rate = simulator.report_chance * 60 / ping_interval * devices
        print(
            f"simulating {devices} devices against {url}: a fix every {ping_interval:g} s each, {rate:.1f} reports "
            f"a minute in all, bad records {'on' if bad_records else 'off'}",
            flush=True,
        )
        return await simulator.run(stop)

    stats = asyncio.run(main())
    print(f"simulator: {stats.line()}", flush=True)
    return 0
