"""Listening ports: a configured port that is busy stops start-up with a line naming its setting; it is
never replaced by another in silence. Every Settings field named `*_port` is one, so a port setting added
later is checked without a list to keep up to date."""

from __future__ import annotations

import dataclasses
import socket

from config.errors import ConfigError
from config.settings import Settings


class PortBusy(ConfigError):
    """A port this process must listen on is taken (or given twice); the message names the setting."""


_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (another process may still take it before we do), and never one
    this process handed out before: the kernel may offer a port it just released again at once, and settings
    that ask for three ports in a row must get three."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether we could listen on the port now. SO_REUSEADDR, as every Redwall server sets it (aiohttp,
    Faust's web server, prometheus_client), so a port left in TIME_WAIT by a clean stop counts as free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_settings(settings: Settings, command: str | None = None) -> dict[str, int]:
    """{variable: port} of the ports `command` listens on: `web_port` and `worker_*_port` for the worker,
    `<command>_*port` for the others, every `*_port` for None (the demo, which runs them all)."""
    ports = {}
    for f in dataclasses.fields(settings):
        if not f.name.endswith("_port"):
            continue
        mine = command is None or f.name.startswith(f"{command}_") or (command == "worker" and f.name == "web_port")
        if mine:
            ports[f.metadata["env"]] = getattr(settings, f.name)
    return ports


def check_ports(ports: dict[str, int], host: str) -> None:
    """PortBusy naming every setting whose port is given twice or is in use on `host`."""
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port in seen:
            raise PortBusy(f"{seen[port]} and {name} are both {port}: give each its own port")
        seen[port] = name
    busy = {name: port for name, port in ports.items() if not port_is_free(port, host)}
    if busy:
        listed = ", ".join(f"{port} ({name})" for name, port in busy.items())
        noun, are, free = ("ports", "are", "free ports") if len(busy) > 1 else ("port", "is", "a free port")
        raise PortBusy(
            f"{noun} {listed} {are} in use on {host}: stop what listens there (another `redwall demo`?) "
            f"or set {' and '.join(busy)} to {free}"
        )
