"""The `redwall` command: the demo, and each part of the pipeline on its own.

Next to a running demo every command reads its addresses from ./redwall-demo.env (config/addresses.py);
a command that cannot reach PostgreSQL or Kafka, or finds its port taken, says so in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from config.errors import ConfigError
from streams.cli.calendar import add_commands as add_calendar_commands
from streams.cli.credentials import add_commands as add_credential_commands
from streams.cli.hotline import add_commands as add_hotline_commands
from streams.cli.patrol import add_commands as add_patrol_commands
from streams.cli.report import add_commands as add_report_commands
from streams.cli.street import add_commands as add_street_commands


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from streams.cli.start import Start

    start = Start(reads_demo_file=args.run is not _demo)
    try:
        # Commands on files only (street, geometry and roster import) run before any setting is right.
        settings = None if getattr(args, "offline", False) else start.settings()
        start.preflight(settings, args)
        code = args.run(settings, args) or 0
        sys.stdout.flush()  # a reader that went away is found here, not in Python's flush at exit
        return code
    except ConfigError as error:
        print(f"redwall: {start.configuration(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `redwall devices list | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141
    except Exception as error:  # only a failure to reach PostgreSQL or Kafka is told in one line; others re-raised
        line = start.explain(error)
        if line is None:
            raise
        print(f"redwall: {line}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="redwall", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(kafka=None)  # the Kafka client options, for a command that needs Kafka (streams/cli/start.py)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="the whole pipeline on one machine: its own broker and PostgreSQL (or "
        "REDWALL_BROKER's and DATABASE_URL's), simulated phones and dispatchers, a working day in 30 minutes",
    )
    demo.add_argument("--duration", type=float, help="stop after this many seconds and print a summary")
    demo.add_argument(
        "--devices", type=int, help="simulated field workers (0: no traffic at all; default 80, in a district 300)"
    )
    demo.add_argument(
        "--district",
        action="store_true",
        help="the ILLUSTRATIVE district of 15 streets (西城区), each street's people seeing their own street",
    )
    demo.add_argument(
        "--bad-records",
        action="store_true",
        help="also send malformed records (refused reports, garbage on the input topics: dead letters)",
    )
    demo.add_argument(
        "--dispatchers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="simulated dispatchers acknowledge and resolve incidents (default: when there are devices)",
    )
    demo.add_argument("--broker-port", type=int, help="port of the demo's own broker (default: a free one)")
    demo.add_argument(
        "--data-dir",
        type=Path,
        help="where logs and the embedded PostgreSQL's files go and stay "
        "(default: a new temp dir; its logs are kept, its database deleted)",
    )
    demo.set_defaults(run=_demo)

    both = ("postgres", "kafka")
    sub.add_parser("worker", help="the Faust worker: ingest HTTP, geofencing agents").set_defaults(
        run=_worker, needs=both, listens="worker"
    )
    sub.add_parser("sink", help="consumers that write the output topics to Postgres").set_defaults(
        run=_sink, needs=both, listens="sink"
    )
    sub.add_parser("deliver", help="alert delivery: routing.toml, one consumer per webhook channel").set_defaults(
        run=_deliver, needs=both, listens="deliver"
    )
    sub.add_parser("console", help="the dispatcher console: map, live alert feed, incident actions").set_defaults(
        run=_console, needs=both, listens="console"
    )
    inbox = sub.add_parser("inbox", help="a loopback webhook endpoint playing the JSON receiver and the robots")
    inbox.add_argument("--port", type=int, default=9103)
    inbox.set_defaults(run=_inbox, listens="--port")
    sub.add_parser(
        "migrate",
        help="apply Postgres migrations, seed grids from config/, and make or update the "
        "processes' roles and grants (sinks/grants.py)",
    ).set_defaults(run=_migrate, needs=("postgres",), waits=True)
    sub.add_parser("settings", help="print every setting, its variable and its value").set_defaults(run=_settings)
    retention = sub.add_parser(
        "retention",
        help="drop position history and dead letters older than their retention "
        "now (`redwall sink` also does it every REDWALL_RETENTION_INTERVAL_SECONDS)",
    )
    retention.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    retention.set_defaults(run=_retention, needs=("postgres",))

    simulate = sub.add_parser("simulate", help="simulated field devices posting to the ingest API")
    simulate.add_argument("--devices", type=int, default=80)
    simulate.add_argument("--duration", type=float, help="seconds to run (default: until interrupted)")
    simulate.add_argument("--url", help="ingest base URL (default: http://WEB_HOST:WEB_PORT)")
    simulate.add_argument("--ping-interval", type=float, default=3.0, help="seconds between a device's fixes")
    simulate.add_argument("--upload-every", type=int, default=3, help="fixes per uploaded batch")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument(
        "--tokens", type=Path, help="file of `DEVICE TOKEN` lines (default: issue tokens in Postgres)"
    )
    simulate.add_argument(
        "--reports-per-minute",
        type=float,
        help="reports the devices file in all (default: 0.4 a minute each, a load test)",
    )
    simulate.add_argument(
        "--bad-records",
        action="store_true",
        help="also send malformed records: a tenth of the reports spoiled, garbage straight to Kafka",
    )
    simulate.set_defaults(
        run=_simulate, needs=lambda a: ("postgres",) * (a.tokens is None) + ("kafka",) * a.bad_records
    )

    desk = sub.add_parser(
        "simulate-dispatchers",
        help="simulated dispatchers acknowledging and resolving open "
        "incidents through the actions API, leaving a few to escalate",
    )
    desk.add_argument("--url", help="worker base URL (default: http://WEB_HOST:WEB_PORT)")
    desk.add_argument("--tokens", type=Path, help="file of `NAME TOKEN` lines (default: issue tokens in Postgres)")
    desk.add_argument(
        "--neglect",
        type=float,
        default=0.12,
        help="share of incidents below the street never acknowledged, so that they escalate",
    )
    desk.add_argument("--duration", type=float, help="seconds to run (default: until interrupted)")
    desk.set_defaults(run=_simulate_dispatchers, needs=("postgres",))

    hotline = sub.add_parser("simulate-hotline", help="a simulated 12345 adapter posting work orders and their events")
    hotline.add_argument("--url", help="worker base URL (default: http://WEB_HOST:WEB_PORT)")
    hotline.add_argument("--token", type=Path, help="file with a `12345-demo TOKEN` line (default: issue one)")
    hotline.add_argument("--seed", type=int, default=12345)
    hotline.add_argument("--orders-per-minute", type=float, help="default: ~300 a month on the demo's compressed day")
    hotline.add_argument("--duration", type=float, help="seconds to run (default: until interrupted)")
    hotline.set_defaults(run=_simulate_hotline, needs=lambda a: ("postgres",) * (a.token is None))

    major = sub.add_parser("major-event", help="major-event periods (重大活动保障期) at run time")
    major_sub = major.add_subparsers(required=True, metavar="ACTION")
    start = major_sub.add_parser("start", help="put a period in force now: every worker tightens new deadlines")
    start.add_argument("id", help="period id, e.g. drill-2026-11")
    start.add_argument("--hours", type=float, required=True, help="how long the period lasts")
    start.add_argument("--factor", type=float, default=0.5, help="deadlines are multiplied by this (0.01..1)")
    start.add_argument("--name", help="human name of the period (default: the id)")
    start.add_argument("--start", type=_aware_time, help="RFC 3339 start with an offset (default: now)")
    start.set_defaults(run=_major_event_start, needs=("kafka",))

    schemas = sub.add_parser("schemas", help="JSON Schema for device developers")
    schemas_sub = schemas.add_subparsers(required=True, metavar="ACTION")
    export = schemas_sub.add_parser("export", help="write one JSON Schema file per record and openapi.json into DIR")
    export.add_argument("dir", type=Path)
    export.set_defaults(run=_schemas_export)

    roster = sub.add_parser("roster", help="the patrol roster (workers, shifts) and major-event periods")
    roster_sub = roster.add_subparsers(required=True, metavar="ACTION")
    roster_sub.add_parser(
        "load",
        help="check REDWALL_ROSTER and REDWALL_MAJOR_EVENTS, then store them in Postgres; "
        "running workers pick the change up within REDWALL_ROSTER_REFRESH_SECONDS",
    ).set_defaults(run=_roster_load, needs=("postgres",))
    add_credential_commands(sub)  # devices, dispatchers, integrations
    add_street_commands(sub, roster_sub)  # street init|check, geometry import, roster import
    add_hotline_commands(sub)  # hotline rates|topics
    add_patrol_commands(sub)  # patrol who-was-here
    add_report_commands(sub)  # report weekly
    add_calendar_commands(sub)  # calendar deadline|days
    return parser


def _demo(settings, args):
    from streams.demo.supervisor import DemoOptions, run_demo

    return run_demo(
        settings,
        DemoOptions(
            args.duration,
            args.devices if args.devices is not None else 300 if args.district else 80,
            args.data_dir,
            args.broker_port,
            args.bad_records,
            args.dispatchers,
            args.district,
        ),
    )


def _worker(settings, args):
    from streams.app import run_worker

    run_worker(settings, loglevel=args.log_level, kafka=args.kafka)


def _sink(settings, args):
    from consumers.sink import main as sink_main

    sink_main(settings, kafka=args.kafka)


def _deliver(settings, args):
    from consumers.deliver import main as deliver_main

    deliver_main(settings, kafka=args.kafka)


def _console(settings, args):
    from consumers.console.app import main as console_main

    console_main(settings, kafka=args.kafka)


def _inbox(settings, args):
    from streams.demo.inbox import main as inbox_main

    inbox_main(settings, args.port)


def _migrate(settings, args):
    from sinks.migrate import migrate_and_seed

    applied = asyncio.run(migrate_and_seed(settings))
    print(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")


def _retention(settings, args):
    from sinks.retention import NotMigrated, run_once

    try:
        result = asyncio.run(run_once(settings, dry_run=args.dry_run))
    except NotMigrated as error:
        print(f"redwall: retention: {error}", file=sys.stderr)
        return 2
    print(result.summary())


def _simulate(settings, args):
    from streams.demo.simulator import run_simulator

    url = args.url or f"http://{settings.web_host}:{settings.web_port}"
    return run_simulator(
        settings,
        url=url,
        devices=args.devices,
        duration=args.duration,
        ping_interval=args.ping_interval,
        upload_every=args.upload_every,
        seed=args.seed,
        tokens=args.tokens,
        reports_per_minute=args.reports_per_minute,
        bad_records=args.bad_records,
        kafka=args.kafka,
    )


def _simulate_dispatchers(settings, args):
    from streams.demo.dispatchers import run_dispatchers

    url = args.url or f"http://{settings.web_host}:{settings.web_port}"
    return run_dispatchers(settings, url=url, tokens=args.tokens, neglect=args.neglect, duration=args.duration)


def _simulate_hotline(settings, args):
    from streams.demo.hotline_poster import run_hotline_feed

    url = args.url or f"http://{settings.web_host}:{settings.web_port}"
    rate = {"per_minute": args.orders_per_minute} if args.orders_per_minute else {}
    return run_hotline_feed(settings, url=url, token=args.token, seed=args.seed, duration=args.duration, **rate)


def _settings(settings, args):
    from config.pg_security import masked

    for env, doc, value in settings.describe():
        if value and env.endswith(("PASSWORD", "TOKEN", "SECRET")):
            value = "(set, not shown)"  # this output ends up in terminals and logs
        elif env == "DATABASE_URL":
            value = masked(str(value))
        print(f"{env}={value}\n    {doc}")


def _roster_load(settings, args):
    from sinks.patrol import load_roster_files

    counts = asyncio.run(load_roster_files(settings))
    print("roster loaded: " + ", ".join(f"{n} {what}" for what, n in counts.items()))


def _major_event_start(settings, args):
    from schemas.display import local_minute
    from schemas.fields import FieldError
    from streams.escalation.control import broadcast, major_event

    try:
        record = major_event(args.id, args.hours, args.factor, args.name, args.start)
    except FieldError as error:
        print(f"redwall: major-event start: {error}", file=sys.stderr)
        return 2
    partitions = asyncio.run(broadcast(settings, record, kafka=args.kafka))
    period, tz = record["period"], settings.timezone
    print(
        f"major event {period['id']} (重大活动保障期) in force {local_minute(period['start'], tz)} .. "
        f"{local_minute(period['end'], tz)} ({tz}), deadlines x{period['deadline_factor']}, "
        f"sent to {partitions} partitions"
    )


def _aware_time(text: str):
    from datetime import datetime

    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError("needs a UTC offset, e.g. 2027-03-03T08:00:00+08:00")
    return when


def _schemas_export(settings, args):
    from schemas.export import export

    for path in export(args.dir, settings.max_pings_per_batch):
        print(path)
