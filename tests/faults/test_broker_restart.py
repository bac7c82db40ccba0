"""The broker restarts, empty (the embedded Tansu keeps its log in memory): the worker, sink and
delivery processes notice, exit, are started again by the supervisor `redwall demo` uses (nobody
acts), and carry on with new data; PostgreSQL keeps everything written before."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from streams.broker_epoch import EXIT_BROKER_LOST
from streams.demo.processes import Supervisor
from tests.faults.checks import everything_stored, explain_missing, stored_pings
from tests.faults.load import Accepted, KafkaDevices, RecordingSimulator
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

LOAD_SECONDS = 6.0
AFTER_SECONDS = 20.0  # new data keeps coming while the processes notice, exit and start again


async def supervise(supervisor: Supervisor, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await asyncio.to_thread(supervisor.check)
        await asyncio.sleep(0.5)


async def load(settings, url: str, accepted: Accepted, seconds: float) -> None:
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(RecordingSimulator(settings, url, accepted, devices=40).run(stop)),
        asyncio.create_task(KafkaDevices(settings, accepted, devices=20).run(stop)),
    ]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)


async def test_broker_restart_empty_processes_restart_by_themselves(fault_broker, fault_settings, processes, fault_pg):
    s = fault_settings
    since = datetime.now(UTC) - timedelta(seconds=1)
    before, after = Accepted(), Accepted()
    await processes.start()
    supervisor = Supervisor({"worker": processes.worker, "sink": processes.sink, "deliver": processes.deliver})
    stop_supervising = asyncio.Event()
    supervising = asyncio.create_task(supervise(supervisor, stop_supervising))
    try:
        await load(s, processes.ingest_url, before, LOAD_SECONDS)
        assert await eventually(lambda: everything_stored(fault_pg, before, since), 60), await explain_missing(
            s, fault_pg, before, since
        )
        kept = await stored_pings(fault_pg, since)

        fault_broker.stop()
        fault_broker.start()  # the same address, nothing in it
        back = time.monotonic()
        await load(s, processes.ingest_url, after, AFTER_SECONDS)
        assert await eventually(lambda: everything_stored(fault_pg, after, since), 90), await explain_missing(
            s, fault_pg, after, since
        )
        settled = time.monotonic() - back
    finally:
        stop_supervising.set()
        await supervising

    restarted = {name: code for name, code, _ in supervisor.restarts}
    assert restarted == {"worker": EXIT_BROKER_LOST, "sink": EXIT_BROKER_LOST, "deliver": EXIT_BROKER_LOST}, (
        f"restarts by the supervisor: {supervisor.restarts}"
    )
    assert kept <= await stored_pings(fault_pg, since), "rows written before the broker restart are gone"
    reports = list(after.reports)

    async def linked():
        return await fault_pg.fetchval(
            "SELECT count(*) FROM incident_reports WHERE report_id = ANY($1)", reports
        ) == len(reports)

    assert await eventually(linked, 30), "reports filed after the restart are in no incident"
    lines = [
        line for line in processes.worker.log_path.read_text(errors="replace").splitlines() if "lost its log" in line
    ]
    assert lines, "the worker did not say why it exited"
    when = {name: t - back for name, _, t in supervisor.restarts}
    print(
        f"\nbroker restart: kept {len(kept)} pings in Postgres; restarted by the supervisor "
        f"{', '.join(f'{n} after {t:.1f} s' for n, t in sorted(when.items()))}; all {len(after.pings)} pings and "
        f"{len(after.reports)} reports sent after it in Postgres {settled:.1f} s after the broker came back"
    )
