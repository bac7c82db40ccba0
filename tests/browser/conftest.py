"""The console's browser tests share one stack (a real worker, sink and `redwall console` on the session's
broker and Postgres), dispatchers of every role, and Debian's headless Chromium through Playwright."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from config.settings import Settings
from schemas import json
from sinks.credentials import issue_dispatcher_token
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
RUN = uuid.uuid4().hex[:8]
STREET, C01, READ = f"console-{RUN}-street", f"console-{RUN}-c01", f"console-{RUN}-read"


@dataclass
class Stack:
    settings: Settings
    procs: dict[str, RedwallProcess]
    log_dir: Path
    tokens: dict[str, str]  # role -> token of the dispatchers above

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.settings.console_port}"


def console_settings(settings: Settings, **changes) -> Settings:
    return dataclasses.replace(settings, console_port=free_port(), **changes)


@pytest.fixture(scope="session")
async def dispatchers(settings) -> dict[str, str]:
    db = settings.database_url
    return {
        "street": await issue_dispatcher_token(db, STREET, "street"),
        "community": await issue_dispatcher_token(db, C01, "community", "c01"),
        "read": await issue_dispatcher_token(db, READ, "read"),
    }


@pytest.fixture(scope="package")
def stack(settings, dispatchers, tmp_path_factory):
    """Worker (ingest, escalation, actions), sink and console as child processes, for the browser tests
    only: stopped before the next package, whose workers would otherwise share the consumer group."""
    log_dir = tmp_path_factory.mktemp("console")
    settings = console_settings(settings)
    procs = {name: RedwallProcess(name, settings, log_dir).start() for name in ("worker", "sink", "console")}
    try:
        procs["console"].wait_http(f"http://127.0.0.1:{settings.console_port}/static/console.css")
        procs["worker"].wait_http(f"http://127.0.0.1:{settings.worker_metrics_port}/metrics")
        procs["sink"].wait_http(f"http://127.0.0.1:{settings.sink_metrics_port}/metrics")
        yield Stack(settings, procs, log_dir, dispatchers)
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture(scope="package")
async def browser():
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


def sign_in_link(settings: Settings, token: str) -> str:
    return f"http://127.0.0.1:{settings.console_port}/?token={token}"


async def open_console(browser, settings: Settings, token: str, *, timezone_id: str = "UTC", **viewport):
    """A page of its own browser context (its own cookies), signed in by the link the demo prints. The
    browser's zone is not the street's on purpose: the page must show REDWALL_TIMEZONE's time."""
    context = await browser.new_context(viewport=viewport or {"width": 1600, "height": 1000}, timezone_id=timezone_id)
    page = await context.new_page()
    watch_errors(page)
    response = await page.goto(sign_in_link(settings, token))
    assert response.status == 200
    await page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    return page


async def open_detail(page, incident: str):
    """The incident's detail, opened from its row in the list (found by its id)."""
    await page.fill("#search", incident)
    await page.locator(f"#incidents li[data-incident='{incident}']").click(timeout=30_000)
    await page.wait_for_selector(f"#detail[data-incident='{incident}'] h3", timeout=10_000)


def watch_errors(page) -> list[str]:
    """Script errors and Content-Security-Policy violations of the page, which `close` fails on."""
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(f"script error: {error}"))
    page.on("console", lambda m: page.errors.append(m.text) if "Content Security Policy" in m.text else None)
    return page.errors


async def close(page) -> None:
    """Ends the page's context (its cookies with it); the page must have run without an error."""
    errors = getattr(page, "errors", [])
    await page.context.close()
    assert errors == []


async def publish(settings: Settings, topic: str, values: list[dict], key=lambda v: b"k") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.broker, linger_ms=5, max_request_size=16_000_000)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, json.dumps(v), key=key(v)) for v in values])
    finally:
        await producer.stop()
