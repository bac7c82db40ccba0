"""How every Kafka client of Redwall connects: TLS and SASL from settings, in one place.

`kafka_options(settings)` gives the keyword arguments of every aiokafka client (consumer, producer,
admin); `faust_credentials(settings)` gives the same to the Faust app. `validate(settings)` runs at
start-up (from `Settings.validate`) so a wrong combination stops the process with the fix.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from pathlib import Path

from config.errors import ConfigError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def uses_tls(settings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def uses_sasl(settings) -> bool:
    return settings.kafka_security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def validate(settings) -> None:
    """Refuse a security configuration that could not connect, naming the variable and the fix."""
    protocol = settings.kafka_security_protocol
    if protocol not in PROTOCOLS:
        raise ConfigError(
            f"environment: REDWALL_KAFKA_SECURITY_PROTOCOL={protocol!r} is invalid: use one of {', '.join(PROTOCOLS)}"
        )
    if uses_sasl(settings):
        _validate_sasl(settings)
    if uses_tls(settings):
        for env, path in _tls_files(settings).items():
            if path and not Path(path).is_file():
                raise ConfigError(f"environment: {env}={path} names no readable file; point it at a PEM file")
        if bool(settings.kafka_ssl_cert_file) != bool(settings.kafka_ssl_key_file):
            raise ConfigError(
                "environment: REDWALL_KAFKA_SSL_CERT_FILE and REDWALL_KAFKA_SSL_KEY_FILE go together "
                "(mutual TLS needs both the client certificate and its key); set both or neither"
            )
    elif any(_tls_files(settings).values()):
        raise ConfigError(
            f"environment: REDWALL_KAFKA_SSL_* files are set but REDWALL_KAFKA_SECURITY_PROTOCOL="
            f"{protocol} does not use TLS; use SSL or SASL_SSL, or unset them"
        )


def _validate_sasl(settings) -> None:
    protocol = settings.kafka_security_protocol
    if settings.kafka_sasl_mechanism not in MECHANISMS:
        raise ConfigError(
            f"environment: REDWALL_KAFKA_SASL_MECHANISM={settings.kafka_sasl_mechanism!r} is invalid: "
            f"use one of {', '.join(MECHANISMS)}"
        )
    if not settings.kafka_username:
        raise ConfigError(
            f"environment: REDWALL_KAFKA_SECURITY_PROTOCOL={protocol} needs REDWALL_KAFKA_USERNAME; "
            "set it to the broker user Redwall connects as"
        )
    if settings.kafka_password and settings.kafka_password_file:
        raise ConfigError("environment: set REDWALL_KAFKA_PASSWORD or REDWALL_KAFKA_PASSWORD_FILE, not both")
    path = settings.kafka_password_file
    if path and not Path(path).is_file():
        raise ConfigError(f"environment: REDWALL_KAFKA_PASSWORD_FILE={path} names no readable file")
    if not (settings.kafka_password or path):
        raise ConfigError(
            f"environment: REDWALL_KAFKA_SECURITY_PROTOCOL={protocol} needs REDWALL_KAFKA_PASSWORD or "
            "REDWALL_KAFKA_PASSWORD_FILE (a file holding the password, e.g. a Docker secret)"
        )


def _tls_files(settings) -> dict[str, str]:
    return {
        "REDWALL_KAFKA_SSL_CA_FILE": settings.kafka_ssl_ca_file,
        "REDWALL_KAFKA_SSL_CERT_FILE": settings.kafka_ssl_cert_file,
        "REDWALL_KAFKA_SSL_KEY_FILE": settings.kafka_ssl_key_file,
    }


def password(settings) -> str:
    """The SASL password, read from its file when one is named (a trailing newline is not part of it)."""
    if settings.kafka_password_file:
        return Path(settings.kafka_password_file).read_text().rstrip("\r\n")
    return settings.kafka_password


@lru_cache(maxsize=8)
def ssl_context(ca_file: str = "", cert_file: str = "", key_file: str = "") -> ssl.SSLContext:
    """A client context that verifies the broker's certificate and host name (shared: contexts are costly)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file or None)
    if cert_file:
        context.load_cert_chain(cert_file, key_file or None)
    return context


def tls_context(settings) -> ssl.SSLContext | None:
    if not uses_tls(settings):
        return None
    return ssl_context(settings.kafka_ssl_ca_file, settings.kafka_ssl_cert_file, settings.kafka_ssl_key_file)


def kafka_options(settings) -> dict:
    """Keyword arguments for every AIOKafkaConsumer / AIOKafkaProducer / AIOKafkaAdminClient."""
    options = {"bootstrap_servers": settings.broker, "security_protocol": settings.kafka_security_protocol}
    context = tls_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if uses_sasl(settings):
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_username,
            sasl_plain_password=password(settings),
        )
    return options


def faust_credentials(settings):
    """`broker_credentials` for faust.App: Faust hands them to its consumer, producer and admin client."""
    from faust.auth import SASLCredentials, SSLCredentials  # faust is heavy; only the worker needs it

    if uses_sasl(settings):
        # SASLCredentials turns SASL_PLAINTEXT into SASL_SSL when given a context.
        return SASLCredentials(
            username=settings.kafka_username,
            password=password(settings),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=tls_context(settings),
        )
    if uses_tls(settings):
        return SSLCredentials(tls_context(settings))
    return None
