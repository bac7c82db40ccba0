"""Least privilege (sinks/grants.py, sinks/roles.py): every table is declared, and against a PostgreSQL
deployed as docker-compose deploys it, each process's role logs in with the password from its file, does its
own work through Redwall's own code, and is refused what it must not do."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from config.errors import ConfigError
from config.geometry import load_geometry
from config.hotline import load_hotline
from config.major_events import load_major_events
from config.roster import load_roster
from config.settings import SAMPLE_GEOMETRY, Settings
from consumers.report.figures import weekly_figures
from consumers.state_gauges import StateGauges
from sinks import roles
from sinks.credentials import issue, issue_dispatcher_token
from sinks.delivery_log import DeliveryLog
from sinks.grants import PROCESSES, function_grants, table_grants
from sinks.incident_detail import incident_detail
from sinks.incident_history import Progress
from sinks.incidents import IncidentSink
from sinks.migrate import SchemaNotReady, prepare_schema
from sinks.notification import Notification
from sinks.partitions import partition_name
from sinks.patrol import PatrolSink, device_states, read_roster, store_roster
from sinks.patrol_day import patrol_day
from sinks.postgres import PostgresSink
from sinks.retention import RetentionPolicy, apply_retention
from sinks.task_candidates import candidates, grid_roster
from sinks.tasks import TaskSink, task_detail, task_snapshot, tasks_in_scope, tasks_of_device
from sinks.webhook import Attempt
from sinks.weekly_reports import claim, made_reports, report_file, store
from streams.credentials import CredentialCache
from streams.demo.processes import settings_env
from streams.patrol.advisories import Advisor, advise
from tests.support.pki import make_pki
from tests.support.roles_postgres import PASSWORDS, Deployment
from tests.support.scratch import scratch_schema
from tests.support.task_rows import event, task_state
from tests.support.weekly_schedule import FixedMaker

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0)
PAST = NOW - timedelta(days=10)  # a day without a partition yet: the sink must make it
TODAY = partition_name(NOW.date())
INCIDENT = "inc-c01-00000000beef"
DAY = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 14:00 in Beijing: the sample roster's day shift


@pytest.fixture(scope="module")
async def deployed(tmp_path_factory):
    deployment = Deployment(make_pki(tmp_path_factory.mktemp("pki")), tmp_path_factory.mktemp("roles")).start()
    try:
        # Grafana's role as the postgres image's init script used to make it: SELECT on every table made later.
        deployment.server.psql(
            "CREATE ROLE grafana_reader LOGIN PASSWORD 'old'; ALTER DEFAULT PRIVILEGES FOR ROLE "
            f"{deployment.server.role} IN SCHEMA public GRANT SELECT ON TABLES TO grafana_reader",
            database=deployment.server.database,
        )
        await deployment.migrate()
        yield deployment
    finally:
        deployment.stop()


# --- the declaration covers the schema --------------------------------------------------------------------


async def test_every_table_view_and_function_of_the_schema_is_declared(pg):
    relations = {r["relname"] for r in await pg.fetch(roles.RELATIONS)}
    assert roles.undeclared(relations) == [], "add them to TABLES in sinks/grants.py: who may use them?"
    assert set(table_grants()) <= relations, "sinks/grants.py declares tables no migration makes"
    functions = {
        r["f"]
        for r in await pg.fetch(
            "SELECT oid::regprocedure::text AS f FROM pg_proc WHERE pronamespace = current_schema()::regnamespace"
        )
    }
    assert functions == set(function_grants())


async def test_a_table_a_later_migration_adds_is_caught_until_declared(pg, database_url):
    async with scratch_schema(pg, database_url) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("CREATE TABLE incident_history (id text PRIMARY KEY)")
            relations = {r["relname"] for r in await conn.fetch(roles.RELATIONS)}
            assert roles.undeclared(relations) == ["incident_history"]
        finally:
            await conn.close()


# --- login roles from password files ----------------------------------------------------------------------


async def test_each_process_logs_in_as_its_role_with_its_file_over_tls(deployed):
    for process, (role, _) in PROCESSES.items():
        conn = await deployed.connect(process)
        try:
            assert await conn.fetchval("SELECT current_user") == role
            assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
        finally:
            await conn.close()


async def test_migrate_again_keeps_passwords_and_takes_a_changed_file(deployed, tmp_path):
    owner = await deployed.connect()
    old = tmp_path / "old"
    old.write_text(PASSWORDS["sink"])
    try:
        assert set((await roles.apply(owner, str(deployed.secrets))).values()) == {"password unchanged"}
        deployed.password_file("sink").write_text("a new one, 新的 \\ ' \"\n")
        done = await roles.apply(owner, str(deployed.secrets))
        assert done.pop("redwall_sink") == "password set" and set(done.values()) == {"password unchanged"}
        await (await deployed.connect("sink")).close()  # the new password works
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(deployed.settings("sink", pg_password_file=str(old)).database_dsn)
    finally:
        deployed.password_file("sink").write_text(PASSWORDS["sink"] + "\n")
        await roles.apply(owner, str(deployed.secrets))
        await owner.close()


def test_a_missing_password_file_stops_migrate_before_it_changes_anything(database_url, tmp_path):
    (tmp_path / "pg_worker_password").write_text("only this one")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("REDWALL_")},
        "DATABASE_URL": database_url,
        "REDWALL_PG_ROLE_SECRETS_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"{tmp_path / 'pg_sink_password'}: no such file; REDWALL_PG_ROLE_SECRETS_DIR must hold" in done.stderr


async def test_a_process_role_with_more_power_stops_migrate_naming_it(deployed):
    deployed.server.psql("ALTER ROLE redwall_console CREATEDB")
    owner = await deployed.connect()
    try:
        with pytest.raises(ConfigError, match="role redwall_console holds more than its grants \\(CREATEDB\\)"):
            await roles.apply(owner, "")
    finally:
        deployed.server.psql("ALTER ROLE redwall_console NOCREATEDB")
        await roles.apply(owner, "")
        await owner.close()


async def test_the_old_default_privileges_of_grafana_are_gone(deployed):
    owner, grafana = await deployed.connect(), await deployed.connect("grafana")
    try:
        await owner.execute("CREATE TABLE probe_later (x int)")  # as a migration of tomorrow would
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await grafana.fetch("SELECT * FROM probe_later")
        assert await owner.fetchval("SELECT count(*) FROM pg_default_acl WHERE defaclacl::text LIKE '%grafana%'") == 0
    finally:
        await owner.execute("DROP TABLE probe_later")
        await owner.close()
        await grafana.close()


# --- what each role must be able to do, through Redwall's own code ----------------------------------------


def _report(n: int, when: datetime) -> dict:
    return {
        "id": f"role-r{n}",
        "device": "dev-role-1",
        "category": "sanitation",
        "severity": "low",
        "text": "楼道堆物",
        "location": {"lat": 39.91, "lng": 116.37, "accuracy": 5.0},
        "event_time": when.isoformat(),
        "street": "xichangan",
        "community": "c01",
        "grid": "c01-g01",
        "cell": "8c31aa4298d1bff",
        "photos": [],
    }


def _event(seq: int, kind: str, report: str) -> dict:
    state = {
        "status": "assigned",
        "level": "grid",
        "owner": "c01-g01",
        "priority": "normal",
        "opened_at": NOW.isoformat(),
        "ack_by": (NOW + timedelta(minutes=30)).isoformat(),
        "resolve_by": (NOW + timedelta(hours=4)).isoformat(),
        "reports": seq,
        "last_report_at": NOW.isoformat(),
        "flags": [],
    }
    return {
        "id": f"{INCIDENT}:{seq:05d}",
        "incident": INCIDENT,
        "seq": seq,
        "kind": kind,
        "when": NOW.isoformat(),
        "actor": "dev-role-1",
        "reason": kind,
        "reason_code": kind,
        "street": "xichangan",
        "community": "c01",
        "grid": "c01-g01",
        "category": "sanitation",
        "severity": "low",
        "ceiling": "no",
        "state": state,
        "report": report,
    }


def _fixes(when: datetime) -> dict:
    return {
        "device": "dev-role-1",
        "pings": [
            {
                "lat": 39.91,
                "lng": 116.37,
                "accuracy": 5.0,
                "street": "xichangan",
                "community": "c01",
                "grid": "c01-g01",
                "time": (when + timedelta(seconds=i)).isoformat(),
            }
            for i in range(3)
        ],
    }


@pytest.fixture(scope="module")
async def written(deployed):
    """What the sink writes as redwall_sink, and what the owner loads: the roster and two credentials."""
    owner = await deployed.connect()
    try:
        grids = set(load_geometry(SAMPLE_GEOMETRY).grids)
        settings = Settings.from_env({})
        await store_roster(
            owner, load_roster(settings.roster_path, grids), load_major_events(settings.major_events_path, grids)
        )
        await owner.execute(
            "INSERT INTO roster_workers (device_id, name, role, grid_id, team, shifts) VALUES "
            "('dev-role-1', '王芳', 'grid_worker', 'c01-g01', NULL, '{day}')"
        )
        device = await issue(owner, "device", "dev-role-1")
        await issue_dispatcher_token(owner, "role-street", "street")
    finally:
        await owner.close()
    sink = await PostgresSink.connect(deployed.settings("sink").database_dsn)
    try:
        assert (await sink.write_reports([_report(1, NOW), _report(2, PAST)]))["reports"] == 2
        assert (await sink.write_positions([_fixes(PAST), _fixes(NOW - timedelta(minutes=1))]))["positions"] == 6
        letter = {
            "source_topic": "redwall.pings.v1",
            "partition": 0,
            "offset": 7,
            "reason": "bad",
            "errors": [],
            "value_b64": "e30=",
            "failed_at": PAST.isoformat(),
        }
        assert (await sink.write_dead_letters([letter]))["dead_letters"] == 1
        assert (await IncidentSink(sink.pool).write([_event(1, "opened", "role-r1")]))["incident_events"] == 1
        status = {
            "type": "status",
            "id": f"dev-role-1:on_post:{NOW.isoformat()}",
            "device": "dev-role-1",
            "grid": "c01-g01",
            "status": "on_post",
            "previous": "unknown",
            "reason": "inside",
            "event_time": NOW.isoformat(),
            "current_grid": "c01-g01",
        }
        flags = {
            "type": "gps_flags",
            "device": "dev-role-1",
            "flags": [{"time": NOW.isoformat(), "reason": "accuracy"}],
        }
        assert (await PatrolSink(sink.pool).write([status, flags])) == {"patrol_events": 1, "position_flags": 1}
        await StateGauges(sink.pool, CollectorRegistry()).poll()
        task = task_state("task-role-1", "dev-role-1", "c01", "c01-g01", 0)
        progress = Progress("redwall.tasks.v1", "role-epoch", {0: 1})
        assert (await TaskSink(sink.pool).write([event(task, "created", 0)], progress))["task_events"] == 1
    finally:
        await sink.close()
    return device


async def test_the_sink_writes_makes_days_and_applies_retention_as_its_role(deployed, written):
    conn = await deployed.connect("sink")
    try:
        made = partition_name(PAST.date())
        assert (
            await conn.fetchval("SELECT count(*) FROM positions WHERE event_time < $1", PAST + timedelta(days=1)) == 3
        )
        assert (
            await conn.fetchval("SELECT relowner::regrole::text FROM pg_class WHERE relname = $1", made)
            == deployed.server.role
        )  # made by the owner's function, not owned by the sink
        result = await apply_retention(conn, RetentionPolicy(position_days=5, days_ahead=3, dead_letter_days=5))
        assert result.dropped == {made: 3} and result.removed["dead_letters"] == 1
        assert await conn.fetchval("SELECT to_regclass($1)", made) is None
    finally:
        await conn.close()


async def test_the_worker_reads_credentials_roster_and_patrol_state_and_claims_advisories(deployed, written):
    settings = deployed.settings("worker")
    cache = CredentialCache.from_settings(settings)
    assert await cache.wait_ready(10) and cache.key_of("device", "dev-role-1") is not None
    cache.start().cancel()
    pool = await asyncpg.create_pool(settings.database_dsn, min_size=1, max_size=2)
    try:
        roster, _ = await read_roster(pool)
        assert "dev-role-1" in roster.workers
        assert [s["status"] for s in await device_states(pool, ["dev-role-1"])] == ["on_post"]
        advisor = Advisor(
            1, timedelta(minutes=30), timedelta(days=30), lambda grid: ("xichangan", "c01"), "Asia/Shanghai"
        )
        sent = []

        async def send(alerts):
            sent.extend(alerts)

        assert len(await advise(pool, advisor, NOW + timedelta(seconds=1), lambda grid: ["dev-role-1"], send)) == 1
        assert await advise(pool, advisor, NOW + timedelta(seconds=2), lambda grid: [], send) == []  # claimed
        # the tasks agent's rebuild, a phone's own tasks, and the 生脸 assignment's choice of worker
        states, offsets = await task_snapshot(pool, "redwall.tasks.v1", "role-epoch", lambda device: True)
        assert ([s["task"] for s in states], offsets) == (["task-role-1"], {0: 1})
        assert [t["id"] for t in await tasks_of_device(pool, "dev-role-1")] == ["task-role-1"]
        assert "dev-role-1" in [c.device for c in await candidates(pool, roster, "c01-g01", 39.91, 116.37, DAY)]
    finally:
        await pool.close()


async def test_the_console_reads_incidents_positions_and_credentials(deployed, written):
    settings = deployed.settings("console")
    pool = await asyncpg.create_pool(settings.database_dsn, min_size=1, max_size=2)
    try:
        detail = await incident_detail(pool, INCIDENT)
        assert [r["id"] for r in detail["reports"]] == ["role-r1"] and detail["reports"][0]["reporter"] == "王芳"
        assert await pool.fetchval("SELECT count(*) FROM latest_positions WHERE device_id = 'dev-role-1'") == 1
        # who was here in a drawn polygon: the history through the cell index (EXECUTE of 0017's functions)
        in_cells = "position_cell(lat, lng) = ANY(position_cells(39.89, 116.35, 39.93, 116.41))"
        assert await pool.fetchval(f"SELECT count(*) FROM positions WHERE {in_cells}") >= 1
        # tasks: the list, one task, and who should go (the stored roster of a grid, patrol status, last fixes)
        assert [t["worker"] for t in await tasks_in_scope(pool, community="c01")] == ["王芳"]
        assert (await task_detail(pool, "task-role-1"))["events"][0]["event"] == "created"
        near = await candidates(pool, await grid_roster(pool, "c01-g01"), "c01-g01", 39.91, 116.37, DAY)
        assert ("dev-role-1", "on_post") in [(c.device, c.status) for c in near]
        # the daily patrol summary: the roster's shifts, patrol events, GPS flags, reports and tasks
        (day,) = await patrol_day(pool, NOW.date() - timedelta(days=2), "Asia/Shanghai", devices=["dev-role-1"])
        assert (day.name, day.on_duty_s) == ("王芳", 12 * 3600.0)  # the sample roster's day shift, 08:00-20:00
    finally:
        await pool.close()
    cache = CredentialCache.from_settings(settings)
    assert await cache.wait_ready(10) and cache.key_of("dispatcher", "role-street") is not None
    cache.start().cancel()


async def test_the_sink_makes_a_weekly_report_reading_what_it_counts_and_the_console_serves_it(deployed):
    sink = await asyncpg.create_pool(deployed.settings("sink").database_dsn, min_size=1, max_size=1)
    try:
        assert await claim(sink, "xichangan", "2026-W49", "role-sink", NOW)
        report = await FixedMaker()(sink, None, "2026-W49")
        assert await store(sink, "xichangan", "2026-W49", "role-sink", report, "report:weekly:xichangan:2026-W49", NOW)
        # Every figure of the report, as the sink reads them when it makes one: refused on any table it lacks.
        figures = await weekly_figures(
            sink, "2026-W49", tz="Asia/Shanghai", hotline=load_hotline(), geometry=load_geometry(SAMPLE_GEOMETRY)
        )
        assert figures["street"]["id"] == "xichangan"
    finally:
        await sink.close()
    console = await asyncpg.create_pool(deployed.settings("console").database_dsn, min_size=1, max_size=1)
    try:
        assert [r["week"] for r in await made_reports(console, "xichangan")] == ["2026-W49"]
        assert await report_file(console, "xichangan", "2026-W49", "pdf") == report.pdf
    finally:
        await console.close()


async def test_delivery_keeps_its_log_as_its_role(deployed):
    log = await DeliveryLog.connect(deployed.settings("deliver").database_dsn)
    try:
        alert = {"id": f"role-alert-{uuid.uuid4().hex[:6]}", "kind": "incident_opened"}
        notification = Notification("ops", "root", (), ((alert, 0),))
        assert await log.begin(notification, {}) == 0
        await log.record(notification, 1, Attempt("delivered", 0.012, 200))
        assert await log.finished("ops", [(alert, 0)]) == {(alert["id"], 0)}
        assert alert["id"] in await log.notified("ops") and await log.in_flight("ops") == []
    finally:
        await log.close()


async def test_grafana_reads_every_table_but_credentials(deployed):
    conn = await deployed.connect("grafana")
    try:
        for table, holders in table_grants().items():
            if "grafana_reader" in holders:
                await conn.fetch(f"SELECT * FROM {table} LIMIT 1")
    finally:
        await conn.close()


# --- and what it must not ---------------------------------------------------------------------------------

REFUSED = [
    ("console", "INSERT INTO incidents (id) VALUES ('inc-x')"),
    ("console", "UPDATE incidents SET status = 'resolved'"),
    ("console", "DELETE FROM reports"),
    ("console", "UPDATE credentials SET revoked_at = now()"),
    ("worker", "SELECT count(*) FROM positions"),
    ("worker", f"SELECT count(*) FROM {TODAY}"),
    ("worker", "SELECT count(*) FROM dead_letters"),
    ("worker", "INSERT INTO credentials (kind, subject, token_sha256) VALUES ('device', 'x', '\\x00')"),
    ("worker", "UPDATE credentials SET revoked_at = now()"),
    ("worker", "SELECT positions_create_partition(current_date + 40)"),
    ("sink", "SELECT * FROM credentials"),
    ("sink", "SELECT * FROM alert_notifications"),
    ("sink", "CREATE TABLE sneaky (x int)"),
    ("sink", f"DROP TABLE {TODAY}"),
    ("sink", "ALTER TABLE reports ADD COLUMN sneaky int"),
    ("sink", "TRUNCATE dead_letters"),
    ("sink", "DELETE FROM weekly_reports"),
    ("console", "UPDATE weekly_reports SET html = ''"),
    ("worker", "SELECT * FROM weekly_reports"),
    ("deliver", "SELECT * FROM credentials"),
    ("deliver", "SELECT * FROM reports"),
    ("deliver", "CREATE TEMP TABLE stage (x int)"),
    ("deliver", "SELECT positions_drop_partition(current_date - 400)"),
    ("grafana", "SELECT * FROM credentials"),
    ("grafana", "INSERT INTO reports (id) VALUES ('x')"),
    ("grafana", "DELETE FROM dead_letters"),
    *[(process, f"DROP TABLE {table}") for process in PROCESSES for table in ("reports", "credentials")],
    *[(process, "CREATE TABLE sneaky (x int)") for process in ("worker", "console", "grafana")],
]


@pytest.mark.parametrize("process, sql", REFUSED, ids=[f"{p}: {s}" for p, s in REFUSED])
async def test_what_a_role_must_not_do_is_refused(deployed, process, sql):
    conn = await deployed.connect(process)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(sql)
    finally:
        await conn.close()


async def test_a_process_role_waits_for_migrate_then_says_what_is_missing(deployed, caplog):
    owner, waiting = await deployed.connect(), None
    try:
        await owner.execute("DELETE FROM schema_migrations WHERE version = 9")  # as if 0009 were still to come
        settings = deployed.settings("sink", connect_timeout_seconds=2.5)
        with pytest.raises(
            SchemaNotReady,
            match="the database lacks migration 0009_least_privilege after "
            "REDWALL_CONNECT_TIMEOUT_SECONDS=2.5: run `redwall migrate`",
        ):
            await prepare_schema(settings)
        assert any("waiting for `redwall migrate`" in r.getMessage() for r in caplog.records)
        waiting = asyncio.create_task(prepare_schema(deployed.settings("sink")))
        await asyncio.sleep(1)
        assert not waiting.done()
    finally:
        await owner.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (9, 'least_privilege') ON CONFLICT DO NOTHING"
        )  # what `redwall migrate` would record
        await owner.close()
    assert waiting is not None
    await asyncio.wait_for(waiting, 10)  # and the waiting process goes on


async def test_a_login_that_is_no_process_role_cannot_even_connect(deployed):
    deployed.server.psql("CREATE ROLE stranger LOGIN PASSWORD 'stranger-pw'")
    url = f"postgresql://stranger:stranger-pw@127.0.0.1:{deployed.server.port}/{deployed.server.database}"
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for database"):
        await asyncpg.connect(
            Settings.from_env({}, database_url=url, pg_ssl_root_cert=str(deployed.pki.ca)).database_dsn
        )


def test_a_command_run_as_a_process_role_says_in_one_line_whose_work_it_is(deployed, tmp_path):
    env = {**settings_env(deployed.settings("worker")), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "devices", "add", "dev-not-mine"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("redwall: PostgreSQL refused role redwall_worker of DATABASE_URL=")
    assert "permission denied for table credentials" in done.stderr and "run this as the owner" in done.stderr


async def test_the_drop_function_drops_nothing_but_a_day_of_positions(deployed):
    owner, sink = await deployed.connect(), await deployed.connect("sink")
    try:
        await owner.execute("CREATE TABLE positions_19990101 (x int)")  # the name of a day, not a partition
        assert await sink.fetchval("SELECT positions_drop_partition('1999-01-01')") is False
        assert await owner.fetchval("SELECT to_regclass('positions_19990101')") is not None
    finally:
        await owner.execute("DROP TABLE positions_19990101")
        await owner.close()
        await sink.close()
