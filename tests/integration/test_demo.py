"""`redwall demo` as its user meets it, on the session's broker and PostgreSQL: it honours REDWALL_BROKER and
DATABASE_URL, leaves its addresses for the commands run beside it, and on Ctrl-C prints its summary and
keeps its logs; with `--devices 0` it sends nothing."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from config.addresses import FILE_NAME
from streams.demo.embedded import free_port
from streams.demo.processes import settings_env
from tests.support.databases import own_database
from tests.support.topics import own_topics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a person's shell: no Redwall variable set by hand."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDWALL_") and k != "DATABASE_URL"}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def wait_for(path: Path, proc: subprocess.Popen, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else "timeout"
        time.sleep(0.5)


async def demo_env(settings, name: str) -> tuple[object, dict[str, str]]:
    """A database and topics of the demo's own (the summary counts every row since the demo started, whoever
    wrote it), free ports, and nothing else set: (its settings, its environment)."""
    settings = dataclasses.replace(settings, database_url=await own_database(settings.database_url, name))
    topics = own_topics(settings, f"{name}{uuid.uuid4().hex[:6]}")
    ports = {
        variable: str(free_port())
        for variable in (
            "REDWALL_WEB_PORT",
            "REDWALL_WORKER_METRICS_PORT",
            "REDWALL_SINK_METRICS_PORT",
            "REDWALL_DELIVER_METRICS_PORT",
            "REDWALL_CONSOLE_PORT",
        )
    }
    mine = dataclasses.replace(settings, **topics)
    topic_env = {k: v for k, v in settings_env(mine).items() if k.startswith("REDWALL_TOPIC_")}
    return settings, clean_env(REDWALL_BROKER=settings.broker, DATABASE_URL=settings.database_url, **ports, **topic_env)


async def test_the_demo_on_existing_services_with_commands_beside_it_and_ctrl_c(settings, tmp_path):
    settings, env = await demo_env(settings, "demo")
    here, logs = tmp_path / "work", tmp_path / "logs"
    here.mkdir()
    demo = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "demo", "--devices", "0", "--data-dir", str(logs)],
        cwd=here,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(here / FILE_NAME, demo)
        # Beside it, in a shell where nothing is set: the demo's database, named in one line.
        listed = subprocess.run(
            [sys.executable, "-m", "streams.cli", "dispatchers", "list"],
            cwd=here,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        added = subprocess.run(
            [sys.executable, "-m", "streams.cli", "devices", "add", f"my-phone-{uuid.uuid4().hex[:6]}"],
            cwd=here,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        demo.send_signal(signal.SIGINT)
        out, _ = demo.communicate(timeout=120)
    finally:
        demo.kill()
    assert listed.returncode == 0 and "demo-street" in listed.stdout, listed.stderr
    assert listed.stderr.splitlines() == [
        f"redwall: reaching the demo running here (pid {demo.pid}) through "
        f"./{FILE_NAME}; variables set in the environment win"
    ]
    assert added.returncode == 0 and len(added.stdout.split()[1]) == 43, added.stderr
    assert f"the Kafka at REDWALL_BROKER={settings.broker}" in out and "the PostgreSQL at DATABASE_URL=" in out
    assert not list(logs.glob("tansu-*.log")) and not (logs / "postgres").exists()  # none of its own
    assert demo.returncode == 0, out
    assert out.splitlines()[-1] == "summary: reports=0 pings=0 rows=0 deadletters=0 incidents=0 open=0 hotline=0", out
    assert not (logs / "hotline.log").exists()  # no traffic: no 12345 feed either
    assert f"logs kept in {logs}" in out and (logs / "worker.log").stat().st_size > 0
    assert not (here / FILE_NAME).exists()


async def test_the_demo_with_traffic_plays_the_12345_feed_and_counts_the_orders_stored(settings, tmp_path):
    settings, env = await demo_env(settings, "demohot")
    # Its own broker: its topics, the patrol changelog's among them, are its own on any broker, but the session's
    # was not faster (measured once each: 40 s here, 47 s there).
    del env["REDWALL_BROKER"]
    here, logs = tmp_path / "work", tmp_path / "logs"
    here.mkdir()
    # The duration counts from when every child answers; the feed's first order goes out at once.
    demo = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", "--devices", "1", "--no-dispatchers", "--duration", "20"]
        + ["--data-dir", str(logs)],
        cwd=here,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    out = demo.stdout
    assert demo.returncode == 0, out
    feed = (logs / "hotline.log").read_text()
    assert "12345 feed to http://" in feed and "hotline feed: " in feed, feed  # started, and stopped in order
    summary = dict(pair.split("=") for pair in out.splitlines()[-1].removeprefix("summary: ").split())
    # The first order goes out as the demo starts: the worker places it and the sink stores it.
    assert int(summary["hotline"]) >= 1, out + feed
    assert "refused" not in feed.splitlines()[-1], feed
