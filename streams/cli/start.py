"""What every `redwall` command does before it runs, and how it tells a failure to reach its services.

Settings come from the environment and, next to a running demo, from its address file (which the demo
itself never reads: a second demo must not join the first). A command's listening ports must be free and
the services it needs must answer (long-running processes and `migrate` wait for them up to
REDWALL_CONNECT_TIMEOUT_SECONDS, sinks/connect.py); when they do not, one line names the setting, where its
value came from and the fix, in place of a traceback.
"""

from __future__ import annotations

import asyncio
import os
import sys

from config import addresses
from config.errors import ConfigError
from config.kafka_security import kafka_options
from config.settings import Settings
from streams.ports import PortBusy, check_ports, port_settings
from streams.reach import Unreachable, check, explain


class Start:
    def __init__(self, *, reads_demo_file: bool = True, environ=os.environ):
        self.environ = environ
        self.found = addresses.in_directory() if reads_demo_file else None
        self._settings: Settings | None = None

    def settings(self) -> Settings:
        self._settings = Settings.from_env(self.environ, addresses=self._noted())
        return self._settings

    def preflight(self, settings: Settings, args) -> None:
        """The command's listening ports are free, and the services it needs answer. A command that needs
        Kafka finds its client options, built here once, in `args.kafka` (every client it opens takes them)."""
        listens = getattr(args, "listens", None)
        if listens == "--port":
            check_ports({"--port": args.port}, "127.0.0.1")
        elif listens:
            check_ports(port_settings(settings, listens), settings.web_host)
        needs = getattr(args, "needs", ())
        needs = needs(args) if callable(needs) else needs
        if "kafka" in needs:
            args.kafka = kafka_options(settings)
        if needs:  # a service (or `migrate`) started beside its broker and database waits for them; a person does not
            waits = listens or getattr(args, "waits", False)
            asyncio.run(
                check(
                    settings,
                    needs,
                    self.origin,
                    settings.connect_timeout_seconds if waits else 0.0,
                    kafka=getattr(args, "kafka", None),
                )
            )

    def origin(self, name: str) -> str:
        """Where the value of variable `name` came from, for a message about it."""
        if name in self.environ:
            return "set in the environment"
        if self.found is not None and self.found.live and name in self.found.values:
            return f"from ./{addresses.FILE_NAME}"
        return "the default"

    def explain(self, error: BaseException) -> str | None:
        """One line for a failure to reach PostgreSQL or Kafka; None for any other error."""
        if isinstance(error, Unreachable):
            return str(error)
        return None if self._settings is None else explain(error, self._settings, self.origin)

    @staticmethod
    def configuration(error: ConfigError) -> str:
        plain = isinstance(error, (PortBusy, addresses.AlreadyRunning))  # not a mistake in a setting
        return str(error) if plain else f"configuration error: {error}"

    def _noted(self) -> addresses.DemoAddresses | None:
        """The demo's address file, saying in one line on stderr that it is used (or why not)."""
        found, where = self.found, f"./{addresses.FILE_NAME}"
        if found is None:
            return None
        if not found.live:
            print(
                f"redwall: ignoring {where}: the demo that wrote it (pid {found.pid}) is not running", file=sys.stderr
            )
            return None
        if found.supplies(self.environ):
            print(
                f"redwall: reaching the demo running here (pid {found.pid}) through {where}; "
                "variables set in the environment win",
                file=sys.stderr,
            )
        return found
