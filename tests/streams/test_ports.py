"""Listening ports: a busy configured port stops start-up with one line naming its setting, for the demo
and for each process started alone; a port left in TIME_WAIT by a clean stop counts as free."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import Settings
from streams.demo.processes import settings_env
from streams.ports import PortBusy, check_ports, free_port, port_is_free, port_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def held():
    """A port some other process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_port_in_time_wait_after_a_clean_stop_counts_as_free():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp and prometheus_client do
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server's side closes first, so its end of the connection waits in TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    states = subprocess.run(["ss", "-tan", f"sport = :{port}"], capture_output=True, text=True).stdout
    assert "TIME-WAIT" in states
    assert port_is_free(port)


def test_every_port_setting_is_checked_also_one_added_later():
    @dataclasses.dataclass(frozen=True)
    class Later(Settings):
        worker_metrics_port: int = dataclasses.field(
            default=6067, metadata={"env": "REDWALL_WORKER_METRICS_PORT", "doc": "port of the worker's /metrics"}
        )

    later = Later()
    assert port_settings(later, "worker") == {"REDWALL_WEB_PORT": 6066, "REDWALL_WORKER_METRICS_PORT": 6067}
    assert port_settings(later, "sink") == {"REDWALL_SINK_METRICS_PORT": 9101}
    assert port_settings(later, "console") == {"REDWALL_CONSOLE_PORT": 6070}
    assert set(port_settings(later)) == {
        "REDWALL_WEB_PORT",
        "REDWALL_WORKER_METRICS_PORT",
        "REDWALL_SINK_METRICS_PORT",
        "REDWALL_DELIVER_METRICS_PORT",
        "REDWALL_CONSOLE_PORT",
    }


def test_a_busy_or_doubled_port_names_its_setting(held):
    with pytest.raises(PortBusy, match=rf"port {held} \(REDWALL_CONSOLE_PORT\) is in use .* set REDWALL_CONSOLE_PORT"):
        check_ports({"REDWALL_WEB_PORT": free_port(), "REDWALL_CONSOLE_PORT": held}, "127.0.0.1")
    with pytest.raises(PortBusy, match="REDWALL_WEB_PORT and REDWALL_CONSOLE_PORT are both 7000"):
        check_ports({"REDWALL_WEB_PORT": 7000, "REDWALL_CONSOLE_PORT": 7000}, "127.0.0.1")


@pytest.mark.parametrize(
    "command,setting",
    [
        ("worker", "web_port"),
        ("sink", "sink_metrics_port"),
        ("deliver", "deliver_metrics_port"),
        ("console", "console_port"),
        ("inbox", None),
    ],
)
def test_each_process_started_alone_on_a_busy_port_stops_with_one_line(command, setting, held, tmp_path):
    # Nothing listens at the broker's or the database's address: the port is refused before either is tried.
    nowhere = free_port()
    settings = Settings.from_env(
        {}, broker=f"127.0.0.1:{nowhere}", database_url=f"postgresql://x@127.0.0.1:{nowhere}/x"
    )
    if setting:
        settings = dataclasses.replace(settings, **{setting: held})
    env = {**settings_env(settings), "PYTHONPATH": str(ROOT)}
    args = ["--port", str(held)] if command == "inbox" else []
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", command, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    name = "--port" if command == "inbox" else f"REDWALL_{setting.upper()}"
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"port {held} ({name}) is in use" in done.stderr


def test_free_port_never_hands_out_a_port_twice_though_the_kernel_offers_it_again(monkeypatch):
    # The kernel may offer a port it just released at once: the session's settings once got the same port
    # for REDWALL_WEB_PORT and REDWALL_WORKER_METRICS_PORT, and every test of that process failed.
    import types

    import streams.ports

    given = free_port()
    offered = iter([given, given, 1 + given % 65535])

    class Kernel:
        def __init__(self, *args):
            self.port = next(offered)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def bind(self, address):
            pass

        def getsockname(self):
            return ("127.0.0.1", self.port)

    monkeypatch.setattr(streams.ports, "socket", types.SimpleNamespace(socket=Kernel, AF_INET=0, SOCK_STREAM=0))
    assert free_port() == 1 + given % 65535
