"""One observed run for the ops tests: places seeded and the roster loaded, the worker, sink and delivery
processes (delivery posting to `redwall inbox` on loopback), a real Prometheus scraping them every
second, and a short simulator run through the ingest API."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import yaml

from config.settings import Settings
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics
from tests.support.hotline_rows import insert_orders, order
from tests.support.pipeline import Pipeline, running_pipeline
from tests.support.scratch import with_search_path
from tests.support.topics import own_topics

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "config" / "prometheus" / "rules.yml"
SIMULATION_SECONDS = 20


@dataclass
class Observed:
    settings: Settings
    pipeline: Pipeline
    delivery: RedwallProcess
    delivery_metrics_url: str
    prometheus_url: str


def prometheus_config(settings, rules: Path) -> dict:
    """Like config/prometheus/prometheus.yml, with loopback targets and 1 s intervals."""
    targets = {
        "worker": f"127.0.0.1:{settings.worker_metrics_port}",
        "sink": f"127.0.0.1:{settings.sink_metrics_port}",
        "delivery": f"127.0.0.1:{settings.deliver_metrics_port}",
    }
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]} for job, target in targets.items()
        ],
    }


def start_prometheus(config: dict, work: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: apt-get install prometheus (see .ci/run)")
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(work / "prometheus.log", "wb")  # noqa: SIM115 -- the server's stdout for its whole life
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode}:\n{(work / 'prometheus.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("prometheus did not become ready within 30 s")


def wait_listening(process: RedwallProcess, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.exited is None, process.log_tail()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{process.command} did not listen on {port}:\n{process.log_tail()}")


def routing_to(url: str) -> str:
    """Every alert to one signed JSON webhook at once, whatever the hour."""
    return f"""utc_offset = "+08:00"
max_age = "1h"

[channels.ops-receiver]
type = "json"
url = "{url}"
timeout = "2s"
attempts = 2

[route]
channels = ["ops-receiver"]
group_by = ["community", "kind"]
group_wait = "0s"
group_interval = "1s"
repeat_interval = "30m"
"""


async def seed_hotline_orders(settings) -> None:
    """12345 orders of this month before the sink starts, whose hotline gauges read at start and then only every
    minute, longer than the run: one closed with its call-back, one overdue. The grid saw the first one first."""
    now, tag = datetime.now(UTC), f"ops-{random.randrange(10**9)}"
    closed = order(f"{tag}-closed", "c01", now - timedelta(minutes=10), grid_first=True,
                   contacted_at=now - timedelta(minutes=9), closed_at=now - timedelta(minutes=8),
                   callback_at=now - timedelta(minutes=7), callback_resolved=True, satisfaction="satisfied")  # fmt: skip
    overdue = order(f"{tag}-overdue", "c02", now - timedelta(minutes=10), contact_by=now - timedelta(minutes=5))
    conn = await asyncpg.connect(settings.database_url)
    try:
        await insert_orders(conn, [closed, overdue])
    finally:
        await conn.close()


async def _execute(database_url: str, sql: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run_once(command: str, settings, work: Path, *args: str) -> None:
    process = RedwallProcess(command, settings, work, *args).start()
    process.proc.wait(60)
    assert process.exited == 0, process.log_tail()


@pytest.fixture(scope="package")
def observed(settings, tmp_path_factory):
    work = tmp_path_factory.mktemp("ops")
    inbox_port = free_port()
    inbox = RedwallProcess("inbox", settings, work, "--port", str(inbox_port)).start()
    (work / "routing.toml").write_text(routing_to(f"http://127.0.0.1:{inbox_port}/json/ops-receiver"))
    # Topics and tables of its own: the rules must see a run that starts clean, not the backlog, the committed
    # offsets or the rows (devices on duty in other tests' streets) other test modules left in the session.
    run = f"ops{random.randrange(10**6)}"
    asyncio.run(_execute(settings.database_url, f"CREATE SCHEMA {run}"))
    settings = dataclasses.replace(
        settings,
        database_url=with_search_path(settings.database_url, run),
        routing_path=work / "routing.toml",
        deliver_metrics_port=free_port(),
        **own_topics(settings, run),
    )
    asyncio.run(ensure_topics(settings))
    run_once("migrate", settings, work)  # seeds streets, communities and grids, as in production
    run_once("roster", settings, work, "load")
    asyncio.run(seed_hotline_orders(settings))
    delivery = RedwallProcess("deliver", settings, work).start()
    delivery_metrics_url = f"http://127.0.0.1:{settings.deliver_metrics_port}/metrics"
    prometheus = None
    try:
        with running_pipeline(settings, work) as pipeline:
            wait_listening(inbox, inbox_port)
            delivery.wait_http(delivery_metrics_url)
            prometheus, url = start_prometheus(prometheus_config(settings, RULES), work)
            simulator = RedwallProcess(
                "simulate",
                settings,
                work,
                "--duration",
                str(SIMULATION_SECONDS),
                "--ping-interval",
                "1",
                "--devices",
                "40",
                "--reports-per-minute",  # about ten in the run, whatever else this session's database holds
                "30",
                "--bad-records",
            ).start()
            simulator.proc.wait(SIMULATION_SECONDS + 60)
            assert simulator.exited == 0, simulator.log_tail()
            time.sleep(3)  # the last batches reach the sink, and Prometheus scrapes them and evaluates the rules
            yield Observed(settings, pipeline, delivery, delivery_metrics_url, url)
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(10)
        for process in (delivery, inbox):
            process.stop()
        asyncio.run(_execute(settings.database_url, f"DROP SCHEMA {run} CASCADE"))
