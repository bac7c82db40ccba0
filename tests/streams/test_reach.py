"""A `redwall` command that cannot reach PostgreSQL or Kafka prints one line naming the setting it used,
where its value came from and the fix, and exits non-zero: never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from streams.demo.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]


def redwall(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REDWALL_") and k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        timeout=120,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ("devices", "add", "my-phone-01"),
        ("devices", "list"),
        ("dispatchers", "list"),
        ("migrate",),
        ("roster", "load"),
        ("retention", "--dry-run"),
    ],
)
def test_no_postgresql_is_one_line_naming_database_url(tmp_path, argv):
    url = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/redwall"
    # `migrate` waits for PostgreSQL (tests/sinks/test_connect.py); told not to, it tries once like the others.
    done = redwall(tmp_path, *argv, DATABASE_URL=url, REDWALL_CONNECT_TIMEOUT_SECONDS="0")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(
        "redwall: cannot reach PostgreSQL at DATABASE_URL=postgresql://postgres:***@127.0.0.1:"
    )
    assert "(set in the environment): connection refused" in done.stderr and "secret" not in done.stderr


def test_the_default_address_is_named_as_the_default(tmp_path):
    done = redwall(tmp_path, "major-event", "start", "drill", "--hours", "1", REDWALL_BROKER=f"127.0.0.1:{free_port()}")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "cannot reach Kafka at REDWALL_BROKER=127.0.0.1:" in done.stderr and "set REDWALL_BROKER" in done.stderr
    if subprocess.run(["ss", "-ltn", "sport = :5432"], capture_output=True, text=True).stdout.count("\n") <= 1:
        done = redwall(tmp_path, "dispatchers", "list")  # nothing listens at the default address
        assert "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/redwall (the default)" in done.stderr


async def test_a_database_without_redwall_tables_asks_for_migrate(tmp_path, pg, database_url):
    name = f"empty_{uuid.uuid4().hex[:8]}"
    await pg.execute(f"CREATE DATABASE {name}")
    try:
        empty = urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
        done = redwall(tmp_path, "devices", "list", DATABASE_URL=empty)
    finally:
        await pg.execute(f"DROP DATABASE {name}")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "has no Redwall tables" in done.stderr and "run `redwall migrate` first" in done.stderr
