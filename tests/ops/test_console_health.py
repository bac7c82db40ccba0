"""The console's /healthz, which docker-compose.yml's health check asks: 200 while the console can serve,
503 naming PostgreSQL once the network between them is cut, 200 again when it is back; no dispatcher
token needed, and it opens nothing else. A real `redwall console` on the session's broker, reaching the
session's PostgreSQL through a relay the test cuts."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request

import pytest

from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from tests.ops.relay import Relay, relayed_url


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"{}")
    except OSError:
        return 0, {}


def wait_status(url: str, status: int, limit: float) -> tuple[float, dict]:
    started = time.monotonic()
    while True:
        got, body = get(url)
        if got == status:
            return time.monotonic() - started, body
        assert time.monotonic() - started < limit, f"{url} still answers {got} {body}, not {status}, after {limit} s"
        time.sleep(0.25)


@pytest.fixture(scope="module")
def relayed(settings, tmp_path_factory):
    """The console, its PostgreSQL behind a relay; stopped with the module."""
    url, upstream = relayed_url(settings.database_url)
    relay = Relay(upstream).start()
    url = url.format(port=relay.port)
    console_settings = dataclasses.replace(settings, console_port=free_port(), database_url=url)
    console = RedwallProcess("console", console_settings, tmp_path_factory.mktemp("console-health")).start()
    try:
        yield console, relay, f"http://127.0.0.1:{console_settings.console_port}"
    finally:
        console.stop()
        relay.cut()


def test_console_health_fails_while_postgres_is_cut_off_and_needs_no_token(relayed):
    console, relay, base = relayed
    took, body = wait_status(f"{base}/healthz", 200, 60)
    assert body == {"status": "ok", "process": "console"}
    assert get(f"{base}/api/snapshot")[0] == 401  # the health check is public; nothing else became so

    relay.cut()
    took, body = wait_status(f"{base}/healthz", 503, 10)
    assert [e["field"] for e in body["errors"]] == ["postgres"], body
    print(f"\nconsole /healthz: 503 naming postgres {took:.1f} s after the cut")
    assert console.exited is None  # unhealthy, not dead: the check says so, compose shows it

    relay.start()
    took, _ = wait_status(f"{base}/healthz", 200, 15)
    print(f"console /healthz: 200 again {took:.1f} s after PostgreSQL came back")
