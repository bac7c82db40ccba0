"""How every PostgreSQL connection of Redwall is made: TLS verify-full and a password file from settings.

`DATABASE_URL` alone already carries user, password and `sslmode` (asyncpg reads them as libpq
does). `REDWALL_PG_SSL_ROOT_CERT` adds verify-full against that CA (chain and host name checked),
and `REDWALL_PG_PASSWORD_FILE` a password kept out of the environment (a Docker secret). `dsn()`
folds both into the one DSN every asyncpg connect and pool uses (`Settings.database_dsn`).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from config.errors import ConfigError


def validate(settings) -> None:
    """Refuse settings that could not connect as asked, naming the variable and the fix."""
    root = settings.pg_ssl_root_cert
    if root and not Path(root).is_file():
        raise ConfigError(
            f"environment: REDWALL_PG_SSL_ROOT_CERT={root} names no readable file; "
            "point it at the PEM CA that signed the server's certificate"
        )
    mode = dict(parse_qsl(urlsplit(settings.database_url).query)).get("sslmode")
    if root and mode not in (None, "verify-full"):
        raise ConfigError(
            f"environment: DATABASE_URL has sslmode={mode} but REDWALL_PG_SSL_ROOT_CERT asks for "
            "verify-full; drop sslmode from DATABASE_URL or set sslmode=verify-full"
        )
    path = settings.pg_password_file
    if path and not Path(path).is_file():
        raise ConfigError(f"environment: REDWALL_PG_PASSWORD_FILE={path} names no readable file")
    secrets = settings.pg_role_secrets_dir
    if secrets and not Path(secrets).is_dir():
        raise ConfigError(
            f"environment: REDWALL_PG_ROLE_SECRETS_DIR={secrets} names no directory; point it at the "
            "directory holding pg_worker_password, pg_sink_password, ... (or leave it empty)"
        )


def dsn(settings, url: str | None = None) -> str:
    """`url` (default DATABASE_URL) with the password file's password and verify-full TLS folded in."""
    url = url or settings.database_url
    if not (settings.pg_password_file or settings.pg_ssl_root_cert):
        return url
    parts = urlsplit(url)
    netloc, query = parts.netloc, parse_qsl(parts.query, keep_blank_values=True)
    if settings.pg_password_file:
        netloc = _with_password(netloc, Path(settings.pg_password_file).read_text().rstrip("\r\n"))
    if settings.pg_ssl_root_cert:
        query = [(k, v) for k, v in query if k not in ("sslmode", "sslrootcert")]
        query += [("sslmode", "verify-full"), ("sslrootcert", str(Path(settings.pg_ssl_root_cert).resolve()))]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))


def masked(url: str) -> str:
    """A DSN fit to print or log: its password, in the user part or as a `password=` parameter, shown as ***."""
    url = re.sub(r"(://[^:/@]*):[^@/]+@", r"\1:***@", url)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", url)


def _with_password(netloc: str, password: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        raise ConfigError(
            "environment: REDWALL_PG_PASSWORD_FILE needs a user in DATABASE_URL (postgresql://USER@host:5432/db)"
        )
    user = userinfo.partition(":")[0]
    return f"{user}:{quote(password, safe='')}@{hostport}"
