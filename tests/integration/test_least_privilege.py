"""The pipeline deployed with least privilege, started in the wrong order: worker, sink, delivery and console
each connect to PostgreSQL as their own role (TLS, SCRAM, the password from a file) and to Kafka with
SASL/PLAIN and REDWALL_KAFKA_PASSWORD_FILE, and are started before `redwall migrate` has made their roles.
They wait; migrate, run as the owner, makes the roles; then a report goes in, an incident comes out, the
rows are in PostgreSQL, the alert reaches a webhook and the console reads the incident.

Kafka is the embedded Tansu behind tests/support/sasl_front.py, which checks every client's login (Tansu
itself cannot hold a SASL user); PostgreSQL is Debian's, as tests/support/roles_postgres.py sets it up."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from sinks.credentials import issue_device_token, issue_dispatcher_token
from streams.demo.embedded import EmbeddedBroker, free_port
from streams.demo.processes import RedwallProcess, settings_env
from tests.support import factories
from tests.support.pki import make_pki
from tests.support.receiver import start_receiver
from tests.support.roles_postgres import Deployment
from tests.support.sasl_front import SaslFront
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KAFKA_PASSWORD = "kafka 'redwall' \\ 口令"
PROCESSES = {
    "worker": "worker_metrics_port",
    "sink": "sink_metrics_port",
    "deliver": "deliver_metrics_port",
    "console": "console_port",
}


@pytest.fixture(scope="module")
async def stack(tmp_path_factory):
    """Debian's PostgreSQL (nothing migrated, no process role yet) and Tansu behind the SASL front."""
    work = tmp_path_factory.mktemp("least-privilege")
    deployment = Deployment(make_pki(work / "pki"), work).start()
    front_port = free_port()
    try:
        with EmbeddedBroker(work, advertised_port=front_port) as broker:
            front = await SaslFront(front_port, broker.port, "redwall", KAFKA_PASSWORD).start()
            try:
                yield deployment, front, work
            finally:
                await front.stop()
    finally:
        deployment.stop()


def process_settings(deployment, process, front, kafka_password, routing):
    return deployment.settings(
        process,
        broker=f"127.0.0.1:{front.port}",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_username="redwall",
        kafka_password_file=str(kafka_password),
        web_port=WEB_PORT,
        worker_metrics_port=PORTS["worker_metrics_port"],
        sink_metrics_port=PORTS["sink_metrics_port"],
        deliver_metrics_port=PORTS["deliver_metrics_port"],
        console_port=PORTS["console_port"],
        routing_path=routing,
        webhook_secret="least-privilege",
        connect_timeout_seconds=180.0,
    )


WEB_PORT = free_port()
PORTS = {setting: free_port() for setting in PROCESSES.values()}


async def test_each_process_as_its_own_role_runs_the_pipeline_end_to_end(stack):
    deployment, front, work = stack
    kafka_password = work / "kafka_password"
    kafka_password.write_text(KAFKA_PASSWORD + "\n")
    receiver, runner = await start_receiver("least-privilege")
    routing = work / "routing.toml"
    routing.write_text(
        f'[channels.e2e]\ntype = "json"\nurl = "{receiver.url("/json/e2e")}"\n\n'
        '[route]\nchannels = ["e2e"]\ngroup_by = ["incident"]\ngroup_wait = "0s"\n'
    )
    procs = {
        p: RedwallProcess(p, process_settings(deployment, p, front, kafka_password, routing), work) for p in PROCESSES
    }
    try:
        for proc in procs.values():
            proc.start()
        await asyncio.sleep(3)  # they try, and are refused: their roles do not exist yet
        began = time.monotonic()
        migrated = await asyncio.to_thread(migrate_as_owner, deployment)
        assert migrated.returncode == 0, migrated.stderr
        for name, port in PROCESSES.items():
            await asyncio.to_thread(procs[name].wait_http, f"http://127.0.0.1:{PORTS[port]}/metrics", 180)
        serving = time.monotonic() - began
        await check_pipeline(deployment, receiver)
        done = time.monotonic() - began
    finally:
        await asyncio.gather(*(asyncio.to_thread(proc.stop) for proc in procs.values()))
        await runner.cleanup()
    logs = {name: proc.log_path.read_text() for name, proc in procs.items()}
    for name, log in logs.items():
        assert "permission denied" not in log and "Traceback" not in log, f"{name}:\n{log[-3000:]}"
    refused = [line for line in logs["sink"].splitlines() if "at DATABASE_URL=" in line and "is not answering" in line]
    assert refused and "password authentication failed for user" in refused[0] and "redwall_sink" in refused[0]
    assert front.logins and all(ok for _, ok in front.logins) and front.refused_before_login == 0
    print(
        f"\nleast privilege: all four processes serving {serving:.1f} s after `redwall migrate` started, the report's "
        f"alert delivered and read back {done:.1f} s after it; {len(front.logins)} Kafka logins, all with the file's password"
    )


def migrate_as_owner(deployment) -> subprocess.CompletedProcess:
    owner = deployment.settings(pg_role_secrets_dir=str(deployment.secrets))
    env = {**settings_env(owner), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "migrate"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )


async def check_pipeline(deployment, receiver) -> None:
    """A report in through the worker; the incident, its rows, its alert at the webhook, and the console."""
    owner_dsn = deployment.settings().database_dsn
    device, dispatcher = "dev-lp-1", "lp-street"
    device_token = await issue_device_token(owner_dsn, device)  # credentials are the owner's to issue
    dispatcher_token = await issue_dispatcher_token(owner_dsn, dispatcher, "street")
    report = factories.report(random.Random(9), device, event_time=datetime.now(UTC).isoformat())
    async with aiohttp.ClientSession() as http:

        async def accepted():
            async with http.post(
                f"http://127.0.0.1:{WEB_PORT}/v1/reports",
                json=report,
                headers={"Authorization": f"Bearer {device_token}"},
            ) as answer:
                return answer.status == 202

        assert await eventually(accepted, 60, interval=1.0), "the worker did not take the report"
        owner = await asyncpg.connect(owner_dsn)
        try:

            async def incident():
                return await owner.fetchval(
                    "SELECT i.id FROM incident_reports l JOIN incidents i ON i.id = l.incident_id "
                    "JOIN reports r ON r.id = l.report_id WHERE l.report_id = $1",
                    report["id"],
                )

            found = await eventually(incident, 90)
            assert found, "no incident row for the report"
            users = await owner.fetchval(
                "SELECT array_agg(DISTINCT usename::text) FROM pg_stat_activity WHERE datname = current_database()"
            )
            assert {"redwall_worker", "redwall_sink", "redwall_console"} <= set(users), users

            # other alerts (patrol, on the live clock) may reach the webhook first: wait for this incident's
            async def delivered():
                at_webhook = any(a.get("incident") == found for r in receiver.delivered() for a in r.body["alerts"])
                logged = await owner.fetchval("SELECT count(*) FROM alert_deliveries WHERE outcome = 'delivered'")
                return at_webhook and logged

            assert await eventually(delivered, 90), "the incident's alert was not delivered and logged"
            assert "redwall_deliver" in await owner.fetchval(
                "SELECT array_agg(DISTINCT usename::text) FROM pg_stat_activity WHERE datname = current_database()"
            )
        finally:
            await owner.close()
        async with http.get(
            f"http://127.0.0.1:{PORTS['console_port']}/api/incidents/{found}",
            headers={"Authorization": f"Bearer {dispatcher_token}"},
        ) as answer:
            assert answer.status == 200, await answer.text()
            detail = await answer.json()
    assert [r["id"] for r in detail["reports"]] == [report["id"]] and detail["incident"]["id"] == found
