"""The first connection of `redwall migrate` and of each process waits for a PostgreSQL or Kafka that starts
late, logging each failed attempt in one line that names the setting and the address, and gives up after
REDWALL_CONNECT_TIMEOUT_SECONDS with one line and exit status 1, never a traceback.

The late PostgreSQL is Debian's, started with TLS and SCRAM passwords as in docker-compose, on a port the
command was already trying: nothing listens while it runs initdb, and its role and database come a moment
after it listens (refused logins are tried again too)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.demo.embedded import EmbeddedBroker, free_port
from streams.demo.processes import RedwallProcess
from tests.support.pki import make_pki
from tests.support.tls_postgres import TlsPostgres, debian_bindir

ROOT = Path(__file__).resolve().parents[2]


def start(cwd: Path, *argv: str, **env: str) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REDWALL_") and k != "DATABASE_URL"}
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", *argv],
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
    )


def attempts(stderr: str, setting: str) -> list[str]:
    return [line for line in stderr.splitlines() if f"at {setting}=" in line and "is not answering" in line]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def late_postgres(pki):
    bindir = debian_bindir()
    if bindir is None:
        pytest.fail("Debian's PostgreSQL is missing (tests/system-deps.sh installs it)")
    server = TlsPostgres(pki, bindir)  # its port is chosen; it starts when the test says
    try:
        yield server
    finally:
        server.stop()


def test_migrate_waits_for_a_postgresql_that_starts_late(late_postgres, pki, tmp_path):
    password = tmp_path / "pg_password"
    password.write_text(late_postgres.password + "\n")
    began = time.monotonic()
    migrate = start(
        tmp_path,
        "migrate",
        DATABASE_URL=late_postgres.url(),
        REDWALL_PG_SSL_ROOT_CERT=str(pki.ca),
        REDWALL_PG_PASSWORD_FILE=str(password),
    )
    time.sleep(3)
    late_postgres.start()
    listening = time.monotonic() - began
    out, err = migrate.communicate(timeout=120)
    done = time.monotonic() - began
    assert migrate.returncode == 0, err
    assert "migrations applied: 0001_initial" in out and "0009_least_privilege" in out
    tried = attempts(err, "DATABASE_URL")
    address = f"DATABASE_URL=postgresql://{late_postgres.role}@127.0.0.1:{late_postgres.port}/redwall"
    assert len(tried) >= 2 and all(address in line and "REDWALL_CONNECT_TIMEOUT_SECONDS=60" in line for line in tried)
    assert "connection refused" in tried[0] and "Traceback" not in err
    print(
        f"\nmigrate: PostgreSQL listening {listening:.1f} s after the start, migrated {done:.1f} s after it, "
        f"{len(tried)} failed attempts logged"
    )


def test_migrate_gives_up_on_a_postgresql_that_never_comes(tmp_path):
    url = f"postgresql://redwall:secret@127.0.0.1:{free_port()}/redwall"
    began = time.monotonic()
    migrate = start(tmp_path, "migrate", DATABASE_URL=url, REDWALL_CONNECT_TIMEOUT_SECONDS="3")
    out, err = migrate.communicate(timeout=60)
    waited = time.monotonic() - began
    assert migrate.returncode == 1 and out == ""
    lines = err.splitlines()
    assert len(attempts(err, "DATABASE_URL")) >= 2 and len(lines) == len(attempts(err, "DATABASE_URL")) + 1, err
    assert lines[-1].startswith("redwall: cannot reach PostgreSQL at DATABASE_URL=postgresql://redwall:***@127.0.0.1:")
    assert "within REDWALL_CONNECT_TIMEOUT_SECONDS=3: connection refused" in lines[-1]
    assert "give it longer with REDWALL_CONNECT_TIMEOUT_SECONDS" in lines[-1] and "secret" not in err
    assert 3 <= waited < 15
    print(f"\nmigrate gave up after {waited:.1f} s with {len(lines) - 1} attempts logged")


def test_a_sink_waits_for_a_broker_that_starts_late(settings, tmp_path):
    port = free_port()
    late = dataclasses.replace(settings, broker=f"127.0.0.1:{port}", sink_metrics_port=free_port())
    sink = RedwallProcess("sink", late, tmp_path).start()
    began = time.monotonic()
    try:
        time.sleep(3)
        with EmbeddedBroker(tmp_path, port):
            sink.wait_http(f"http://127.0.0.1:{late.sink_metrics_port}/metrics", timeout=90)
            ready = time.monotonic() - began
    finally:
        sink.stop()
    tried = attempts(sink.log_path.read_text(), "REDWALL_BROKER")
    assert tried and all(f"Kafka at REDWALL_BROKER=127.0.0.1:{port}" in line for line in tried)
    print(f"\nsink: broker started 3 s late, sink serving {ready:.1f} s after its start, {len(tried)} attempts logged")


def test_a_sink_gives_up_on_a_broker_that_never_comes(settings, tmp_path):
    gone = dataclasses.replace(
        settings, broker=f"127.0.0.1:{free_port()}", sink_metrics_port=free_port(), connect_timeout_seconds=3.0
    )
    sink = RedwallProcess("sink", gone, tmp_path).start()
    try:
        assert sink.proc.wait(60) == 1
    finally:
        sink.stop()
    lines = sink.log_path.read_text().splitlines()
    assert lines[-1].startswith(
        f"redwall: cannot reach Kafka at REDWALL_BROKER={gone.broker} (set in the environment)"
        " within REDWALL_CONNECT_TIMEOUT_SECONDS=3: no broker answered"
    ), lines[-1]
    assert attempts("\n".join(lines), "REDWALL_BROKER") and not any("Traceback" in line for line in lines)
