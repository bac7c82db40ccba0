"""A PostgreSQL deployed as docker-compose deploys it, for the least-privilege tests: Debian's server with TLS
and SCRAM passwords only, an owner that is a superuser (the image's POSTGRES_USER), and the login role of
every process made by `redwall migrate` from a directory of password files."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from config.settings import SAMPLE_HOLIDAYS, Settings
from sinks.grants import PROCESSES
from sinks.migrate import migrate_and_seed
from tests.support.pki import Pki
from tests.support.tls_postgres import TlsPostgres, debian_bindir

# Passwords no SQL string pasting would survive: quotes, backslashes, spaces at either end, CJK, a snowman.
PASSWORDS = {
    "worker": 'it\'s the "worker" \\ 网格员 ',
    "sink": "  $1 %L ''; DROP TABLE reports; -- ",
    "deliver": "E'\\x41' \\\\ \" ' 钉钉",
    "console": "控制台 ☃ ÅﬁＦ　spaces",
    "grafana": 'O\'Reilly\\"grafana"',
}


class Deployment:
    def __init__(self, pki: Pki, directory: Path):
        bindir = debian_bindir()
        if bindir is None:
            pytest.fail(
                "Debian's PostgreSQL is missing (tests/system-deps.sh installs it): the role tests need "
                "password logins, which the embedded server (trust) does not check"
            )
        self.pki, self.server = pki, TlsPostgres(pki, bindir)
        self.secrets = directory / "secrets"
        self.owner_password = directory / "owner_password"

    def start(self) -> Deployment:
        self.server.start()
        self.server.psql(f"ALTER ROLE {self.server.role} SUPERUSER")  # as the postgres image's POSTGRES_USER
        self.secrets.mkdir(parents=True)
        self.owner_password.write_text(self.server.password + "\n")
        for process, password in PASSWORDS.items():
            self.password_file(process).write_text(password + "\n")
        return self

    def stop(self) -> None:
        self.server.stop()

    def password_file(self, process: str) -> Path:
        return self.secrets / PROCESSES[process][1]

    def settings(self, process: str | None = None, **overrides) -> Settings:
        """Settings of `process` connecting as its own role, or of the owner (None)."""
        user = self.server.role if process is None else PROCESSES[process][0]
        password = self.owner_password if process is None else self.password_file(process)
        url = f"postgresql://{user}@127.0.0.1:{self.server.port}/{self.server.database}"
        return Settings.from_env(
            {},
            **{
                "database_url": url,
                "pg_ssl_root_cert": str(self.pki.ca),
                "pg_password_file": str(password),
                "holidays_path": str(SAMPLE_HOLIDAYS),  # the session's calendar (tests/conftest.py)
                **overrides,
            },
        )

    async def migrate(self) -> list[str]:
        """`redwall migrate` as the owner, with the role secrets."""
        return await migrate_and_seed(self.settings(pg_role_secrets_dir=str(self.secrets)))

    async def connect(self, process: str | None = None) -> asyncpg.Connection:
        return await asyncpg.connect(self.settings(process).database_dsn)
