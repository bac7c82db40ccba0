"""The simulated phones on the session's broker: no devices is no traffic at all; malformed records are sent
only when asked for (`--bad-records`)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from config.settings import Settings
from streams.demo.processes import settings_env
from streams.demo.simulator import FieldSimulator
from streams.geofence.registry import GridRegistry
from streams.topics import ensure_topics, read_topic
from tests.support.quick import QUICK_KAFKA
from tests.support.topics import own_topics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


async def count_records(settings: Settings, topic: str) -> int:
    return sum([1 async for _ in read_topic(settings, topic)])


@pytest.mark.parametrize("bad_records", [False, True])
async def test_no_devices_no_traffic_and_malformed_records_only_when_asked(settings, tmp_path, bad_records):
    mine = dataclasses.replace(settings, **own_topics(settings, f"sim{uuid.uuid4().hex[:6]}"), **QUICK_KAFKA)
    await ensure_topics(mine)
    # The first malformed record goes out at once (streams/demo/bad_records.py): a few seconds show both cases,
    # with room for the start (the geometry, the producer's connection) on a loaded machine.
    args = ["--devices", "0", "--duration", "8", "--tokens", str(tmp_path / "none")] + ["--bad-records"] * bad_records
    (tmp_path / "none").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "simulate", *args],
        cwd=tmp_path,
        env={**settings_env(mine), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    sent = sum([await count_records(mine, t) for t in mine.input_topics])
    assert (sent > 0) == bad_records, sent


def test_the_report_rate_is_the_whole_streets_or_else_a_load_test():
    registry, settings = GridRegistry.from_settings(Settings()), Settings()
    fixes_a_minute = 60 / 3.0

    def per_minute(**rate) -> float:
        simulator = FieldSimulator(
            registry, settings, "http://127.0.0.1:1", devices=80, ping_interval=3.0, upload_every=3, seed=1, **rate
        )
        return simulator.report_chance * fixes_a_minute * 80

    assert per_minute(reports_per_minute=2.2) == pytest.approx(2.2)
    assert per_minute() == pytest.approx(0.4 * 80)
