"""Kafka TLS and SASL from settings: the options every client gets, start-up checks, and real connections.

TLS runs for real through tests/config/tls_proxy.py (Tansu 0.6 serves plain TCP only): admin,
producer, consumer, `redwall worker` and `redwall sink` connect with mutual TLS. SASL: Tansu speaks SCRAM, but
with memory storage no user can be created while authentication is required (creating one needs an
authenticated connection), so the real test shows the SCRAM exchange reaching the broker and the
broker's answer; a successful login is only covered by the option tests.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import os
import random
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from config.errors import ConfigError
from config.kafka_security import faust_credentials, kafka_options
from config.settings import Settings
from schemas import json
from streams.demo.embedded import EmbeddedBroker, free_port
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics, produce_records, read_topic
from tests.config.tls_proxy import TlsProxy
from tests.support import factories
from tests.support.sasl_front import SaslFront
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def tls_settings(pki, **overrides) -> Settings:
    tls = {
        "kafka_security_protocol": "SSL",
        "kafka_ssl_ca_file": str(pki.ca),
        "kafka_ssl_cert_file": str(pki.client_cert),
        "kafka_ssl_key_file": str(pki.client_key),
    }
    return Settings.from_env({}, **{**tls, **overrides})


def test_plaintext_is_the_default_and_adds_nothing():
    settings = Settings.from_env({})
    assert kafka_options(settings) == {"bootstrap_servers": settings.broker, "security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_sasl_ssl_options_verify_the_broker_and_read_the_password_file(pki, tmp_path):
    secret = tmp_path / "kafka-password"
    secret.write_text("s3cret\n")
    settings = Settings.from_env(
        {},
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_username="redwall",
        kafka_password_file=str(secret),
        kafka_ssl_ca_file=str(pki.ca),
    )
    options = kafka_options(settings)
    assert {
        k: options[k] for k in ("security_protocol", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password")
    } == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "redwall",
        "sasl_plain_password": "s3cret",
    }
    context = options["ssl_context"]
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize("protocol", ["SSL", "SASL_PLAINTEXT", "SASL_SSL"])
def test_the_faust_app_gets_what_every_aiokafka_client_gets(pki, protocol):
    sasl = {"kafka_username": "u", "kafka_password": "p"} if protocol.startswith("SASL") else {}
    tls = {"kafka_ssl_ca_file": str(pki.ca)} if protocol.endswith("SSL") else {}
    settings = Settings.from_env({}, kafka_security_protocol=protocol, **sasl, **tls)
    options = kafka_options(settings)
    options.pop("bootstrap_servers")
    faust = dict(credentials_to_aiokafka_auth(faust_credentials(settings)))
    assert {k: v for k, v in faust.items() if v is not None} == options


@pytest.mark.parametrize(
    "env, words",
    [
        (
            {"REDWALL_KAFKA_SECURITY_PROTOCOL": "TLS"},
            "REDWALL_KAFKA_SECURITY_PROTOCOL='TLS' is invalid: use one of PLAINTEXT",
        ),
        (
            {"REDWALL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "REDWALL_KAFKA_PASSWORD": "p"},
            "REDWALL_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs REDWALL_KAFKA_USERNAME",
        ),
        (
            {"REDWALL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "REDWALL_KAFKA_USERNAME": "u"},
            "needs REDWALL_KAFKA_PASSWORD or REDWALL_KAFKA_PASSWORD_FILE",
        ),
        (
            {
                "REDWALL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "REDWALL_KAFKA_USERNAME": "u",
                "REDWALL_KAFKA_PASSWORD": "p",
                "REDWALL_KAFKA_SASL_MECHANISM": "GSSAPI",
            },
            "REDWALL_KAFKA_SASL_MECHANISM='GSSAPI' is invalid",
        ),
        (
            {
                "REDWALL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "REDWALL_KAFKA_USERNAME": "u",
                "REDWALL_KAFKA_PASSWORD_FILE": "/nowhere/pw",
            },
            "REDWALL_KAFKA_PASSWORD_FILE=/nowhere/pw names no readable file",
        ),
        (
            {"REDWALL_KAFKA_SECURITY_PROTOCOL": "SSL", "REDWALL_KAFKA_SSL_CA_FILE": "/nowhere/ca.pem"},
            "REDWALL_KAFKA_SSL_CA_FILE=/nowhere/ca.pem names no readable file",
        ),
        (
            {"REDWALL_KAFKA_SECURITY_PROTOCOL": "SSL", "REDWALL_KAFKA_SSL_CERT_FILE": "CA"},
            "REDWALL_KAFKA_SSL_CERT_FILE and REDWALL_KAFKA_SSL_KEY_FILE go together",
        ),
        ({"REDWALL_KAFKA_SSL_CA_FILE": "CA"}, "does not use TLS; use SSL or SASL_SSL"),
    ],
)
def test_bad_kafka_security_settings_stop_start_up_naming_the_variable(pki, env, words):
    env = {k: str(pki.ca) if v == "CA" else v for k, v in env.items()}
    with pytest.raises(ConfigError, match=words):
        Settings.from_env(env)


@pytest.fixture(scope="module")
async def tls_broker(pki, tmp_path_factory):
    """Tansu behind a TLS proxy that requires a client certificate; Tansu advertises the proxy."""
    proxy_port = free_port()
    with EmbeddedBroker(tmp_path_factory.mktemp("tansu-tls"), advertised_port=proxy_port) as broker:
        proxy = await TlsProxy(pki, proxy_port, broker.port, require_client_cert=True).start()
        try:
            yield proxy
        finally:
            await proxy.stop()


async def test_admin_producer_and_consumer_work_over_mutual_tls(pki, tls_broker):
    settings = tls_settings(pki, broker=f"127.0.0.1:{tls_broker.port}")
    topic = "tls.check.v1"
    assert await ensure_topics(settings, (topic,)) == {topic: settings.partitions}
    records = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(20)]
    await produce_records(settings, topic, records)
    got = sorted([(r.key, r.value) async for r in read_topic(settings, topic, idle_seconds=1.0)])
    assert got == sorted(records)
    assert tls_broker.handshakes >= 3  # admin, producer, consumer: each over TLS


@pytest.mark.parametrize(
    "change",
    [{"kafka_ssl_ca_file": "other"}, {"kafka_ssl_cert_file": "", "kafka_ssl_key_file": ""}],
    ids=["the broker's certificate is not from the configured CA", "the proxy requires a client certificate"],
)
async def test_a_tls_client_that_cannot_prove_or_verify_is_refused(pki, tls_broker, change):
    change = {k: str(pki.other_ca) if v == "other" else v for k, v in change.items()}
    settings = tls_settings(pki, broker=f"127.0.0.1:{tls_broker.port}", **change)
    producer = AIOKafkaProducer(**kafka_options(settings), request_timeout_ms=3000)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), 20)
    await producer.stop()


@pytest.mark.integration
async def test_the_worker_and_the_sink_work_over_tls_only(pki, tls_broker, settings, tmp_path, pg):
    """`redwall worker` (Faust: consumer, producer, admin) and `redwall sink` (batch consumers, lag admin
    client) reach the broker only through the TLS proxy: pings produced over TLS land in Postgres.
    Started and stopped from threads: the proxy lives on this event loop and must keep serving them."""
    tls = {k: v for k, v in dataclasses.asdict(tls_settings(pki)).items() if k.startswith("kafka_")}
    secured = dataclasses.replace(
        settings,
        broker=f"127.0.0.1:{tls_broker.port}",
        web_port=free_port(),
        worker_metrics_port=free_port(),
        sink_metrics_port=free_port(),
        **tls,
    )
    worker = RedwallProcess("worker", secured, tmp_path).start()
    sink = RedwallProcess("sink", secured, tmp_path).start()
    try:
        await asyncio.to_thread(worker.wait_http, f"http://127.0.0.1:{secured.worker_metrics_port}/metrics")
        await asyncio.to_thread(sink.wait_http, f"http://127.0.0.1:{secured.sink_metrics_port}/metrics")
        device = f"tls-{random.randrange(10**6)}"
        batch = factories.ping_batch(random.Random(3), device, 5)
        await produce_records(secured, secured.topic_pings, [(device.encode(), json.dumps(batch))])

        async def stored():
            return await pg.fetchval("SELECT count(*) FROM positions WHERE device_id = $1", device) == 5

        assert await eventually(stored, 60), worker.log_tail() + sink.log_tail()
    finally:
        await asyncio.gather(asyncio.to_thread(worker.stop), asyncio.to_thread(sink.stop))


async def test_sasl_scram_reaches_the_broker_and_plaintext_is_refused(tmp_path, monkeypatch):
    import aiokafka.conn

    answers = []
    final = aiokafka.conn.ScramAuthenticator.process_server_final_message
    monkeypatch.setattr(
        aiokafka.conn.ScramAuthenticator,
        "process_server_final_message",
        lambda self, message: answers.append(message) or final(self, message),
    )
    with EmbeddedBroker(tmp_path, authentication=True) as broker:
        plain = AIOKafkaProducer(
            **kafka_options(Settings.from_env({}, broker=broker.bootstrap)), request_timeout_ms=3000
        )
        with pytest.raises(KafkaConnectionError):
            await plain.start()
        await plain.stop()
        sasl = Settings.from_env(
            {},
            broker=broker.bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_username="redwall",
            kafka_password="x",
        )
        producer = AIOKafkaProducer(**kafka_options(sasl), request_timeout_ms=3000)
        with pytest.raises(Exception):  # noqa: B017 -- aiokafka cannot parse a SCRAM error answer (KeyError 'v')
            await producer.start()
        await producer.stop()
    # The broker ran the SCRAM-SHA-512 exchange for user "redwall" and answered as RFC 5802 says.
    assert answers == ["e=unknown-user"]


def _kafka_clients() -> list[tuple[str, int, str, set[str], bool]]:
    """Every Kafka client Redwall's code makes: (file, line, class, keyword names, gets **kafka_options(...))."""
    found = []
    for path in sorted(
        p for folder in ("streams", "consumers", "sinks", "benchmarks") for p in (ROOT / folder).rglob("*.py")
    ):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ("AIOKafkaConsumer", "AIOKafkaProducer", "AIOKafkaAdminClient", "App"):
                spread = any(k.arg is None and _client_options(k.value) for k in node.keywords)
                found.append((str(path.relative_to(ROOT)), node.lineno, name, {k.arg for k in node.keywords}, spread))
    return found


def _client_options(value: ast.expr) -> bool:
    """`kafka_options(...)` or `client_options(...)`, or the options a process built once and handed down
    (`kafka`, `self.kafka`: streams/topics.py)."""
    if isinstance(value, ast.Call):
        return getattr(value.func, "id", "") in ("kafka_options", "client_options")
    return getattr(value, "id", None) == "kafka" or getattr(value, "attr", None) == "kafka"


def test_every_kafka_client_in_the_code_takes_the_security_settings():
    """So REDWALL_KAFKA_PASSWORD_FILE (and TLS) reach the worker, sink, delivery, console, verdicts tail, lag
    monitor, simulator and control commands alike, and a client added later cannot forget them."""
    clients = _kafka_clients()
    assert len(clients) >= 12
    for path, line, name, keywords, spread in clients:
        if name == "App":  # faust.App: its consumer, producer and admin client get broker_credentials
            assert "broker_credentials" in keywords, f"{path}:{line}"
        else:
            assert spread, f"{path}:{line}: {name}(...) without **kafka_options(settings) or the options handed down"


@pytest.fixture(scope="module")
async def sasl_broker(tmp_path_factory):
    """Tansu behind a SASL/PLAIN front (tests/support/sasl_front.py) that takes user `redwall` only."""
    front_port = free_port()
    with EmbeddedBroker(tmp_path_factory.mktemp("tansu-sasl"), advertised_port=front_port) as broker:
        front = await SaslFront(front_port, broker.port, "redwall", SASL_PASSWORD).start()
        try:
            yield front
        finally:
            await front.stop()


SASL_PASSWORD = 'kafka 口令 with "quotes" and \\ '


def sasl_settings(front, password_file, **overrides) -> Settings:
    return Settings.from_env(
        {},
        **{
            "broker": f"127.0.0.1:{front.port}",
            "kafka_security_protocol": "SASL_PLAINTEXT",
            "kafka_sasl_mechanism": "PLAIN",
            "kafka_username": "redwall",
            "kafka_password_file": str(password_file),
            **overrides,
        },
    )


async def test_admin_producer_and_consumer_log_in_with_the_password_file(sasl_broker, tmp_path):
    secret = tmp_path / "kafka_password"
    secret.write_text(SASL_PASSWORD + "\n")
    settings = sasl_settings(sasl_broker, secret)
    topic = f"sasl.check.{random.randrange(10**6)}.v1"
    before = len(sasl_broker.logins)
    await ensure_topics(settings, (topic,))
    await produce_records(settings, topic, [(b"k", b"v")])
    assert [(r.key, r.value) async for r in read_topic(settings, topic, idle_seconds=1.0)] == [(b"k", b"v")]
    assert len(sasl_broker.logins) - before >= 3 and all(ok for _, ok in sasl_broker.logins[before:])


async def test_a_wrong_password_or_no_login_is_refused(sasl_broker, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not it")
    for settings in (sasl_settings(sasl_broker, wrong), Settings.from_env({}, broker=f"127.0.0.1:{sasl_broker.port}")):
        producer = AIOKafkaProducer(**kafka_options(settings), request_timeout_ms=3000)
        with pytest.raises(KafkaConnectionError):
            await asyncio.wait_for(producer.start(), 20)
        await producer.stop()
    assert ("redwall", False) in sasl_broker.logins and sasl_broker.refused_before_login >= 1


def test_redwall_settings_never_prints_a_password(tmp_path):
    secret = tmp_path / "kafka_password"
    secret.write_text("file-secret-7")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("REDWALL_") and k != "DATABASE_URL"},
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": "postgresql://redwall_sink:url-secret-1@db:5432/redwall?password=q-secret-2",
        "REDWALL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "REDWALL_KAFKA_USERNAME": "redwall",
        "REDWALL_KAFKA_PASSWORD_FILE": str(secret),
        "REDWALL_WEBHOOK_SECRET": "hook-secret-3",
    }
    shown = subprocess.run(
        [sys.executable, "-m", "streams.cli", "settings"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "DATABASE_URL=postgresql://redwall_sink:***@db:5432/redwall?password=***" in shown.stdout
    assert f"REDWALL_KAFKA_PASSWORD_FILE={secret}" in shown.stdout
    for secret_text in ("url-secret-1", "q-secret-2", "file-secret-7", "hook-secret-3"):
        assert secret_text not in shown.stdout + shown.stderr
    env["REDWALL_KAFKA_PASSWORD"], env["REDWALL_KAFKA_PASSWORD_FILE"] = "env-secret-4", ""
    shown = subprocess.run(
        [sys.executable, "-m", "streams.cli", "settings"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "REDWALL_KAFKA_PASSWORD=(set, not shown)" in shown.stdout and "env-secret-4" not in shown.stdout
