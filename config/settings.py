"""Redwall's settings: one frozen object, read from the environment in one place."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

from config import kafka_security, pg_security
from config.addresses import DemoAddresses
from config.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent
SAMPLE_GEOMETRY = CONFIG_DIR / "sample" / "xichangan.geojson"
SAMPLE_MAJOR_EVENTS = CONFIG_DIR / "major_events.toml"
SAMPLE_ROSTER = CONFIG_DIR / "roster.toml"
SAMPLE_ROUTING = CONFIG_DIR / "routing.toml"
ESCALATION_RULES = CONFIG_DIR / "escalation.toml"
HOTLINE = CONFIG_DIR / "hotline.toml"
TASK_RULES = CONFIG_DIR / "tasks.toml"
CALENDAR = CONFIG_DIR / "calendar.toml"
HOLIDAYS = CONFIG_DIR / "holidays"
SAMPLE_HOLIDAYS = CONFIG_DIR / "sample" / "holidays"  # illustrative years, for the demo and the tests


def _env(name: str, doc: str, default, *, env: str | None = None):
    return field(default=default, metadata={"env": env or f"REDWALL_{name.upper()}", "doc": doc})


@dataclass(frozen=True)
class Settings:
    broker: str = _env("broker", "Kafka bootstrap servers, host:port[,host:port]", "127.0.0.1:9092")
    database_url: str = _env(
        "database_url",
        "PostgreSQL DSN for the query store",
        "postgresql://postgres@127.0.0.1:5432/redwall",
        env="DATABASE_URL",
    )
    # Resolution 12 cells are ~10.8 m across an edge (~300 m²): about twice a 5 m GPS fix, so a
    # cell is as fine as the data can tell apart. Finer cells would only grow the index (res 13 is
    # 7x the cells) without changing any answer, because border cells get an exact test anyway.
    timezone: str = _env(
        "timezone",
        "IANA time zone of the street: every time shown to a person is in it, to the minute",
        "Asia/Shanghai",
    )
    h3_resolution: int = _env("h3_resolution", "H3 resolution of the cell-to-grid index (9..14)", 12)
    geometry_path: Path = _env(
        "geometry", "GeoJSON with the street (or a district of streets), communities and grids", SAMPLE_GEOMETRY
    )
    major_events_path: Path = _env(
        "major_events", "TOML with major-event periods (重大活动保障期)", SAMPLE_MAJOR_EVENTS
    )
    partitions: int = _env("partitions", "partitions per topic when Redwall creates its topics", 4)
    web_host: str = _env("web_host", "address the ingest web server binds to", "127.0.0.1")
    web_port: int = _env("web_port", "port of the worker's public web server: the ingest and action API only", 6066)
    worker_metrics_port: int = _env(
        "worker_metrics_port",
        "port of the worker's ops listener (/metrics, /healthz): keep it off the public side",
        9100,
    )
    sink_metrics_port: int = _env("sink_metrics_port", "port of the sink process's /metrics", 9101)
    max_pings_per_batch: int = _env("max_pings_per_batch", "largest number of pings one PingBatch may carry", 1000)
    topic_reports: str = _env("topic_reports", "input: field reports", "redwall.reports.v1")
    topic_pings: str = _env("topic_pings", "input: GPS ping batches", "redwall.pings.v1")
    topic_actions: str = _env("topic_actions", "input: actions on incidents", "redwall.actions.v1")
    topic_located_reports: str = _env(
        "topic_located_reports", "output: reports with their street, community and grid", "redwall.located-reports.v1"
    )
    topic_positions: str = _env("topic_positions", "output: geofenced ping batches", "redwall.positions.v1")
    topic_deadletter: str = _env(
        "topic_deadletter", "output: rejected records with reason and bytes", "redwall.deadletter.v1"
    )
    topic_incidents: str = _env(
        "topic_incidents", "output: incident state changes (audit trail)", "redwall.incidents.v1"
    )
    topic_patrol: str = _env("topic_patrol", "output: patrol status changes", "redwall.patrol.v1")
    topic_patrol_changelog: str = _env(
        "topic_patrol_changelog",
        "the patrol table's changelog (device states), Faust's own: one per deployment sharing a broker",
        "redwall.patrol-state-changelog.v1",
    )
    topic_alerts: str = _env("topic_alerts", "output: alerts for people to act on", "redwall.alerts.v1")
    routing_path: Path = _env("routing", "TOML with the alert routing tree, channels and inhibit rules", SAMPLE_ROUTING)
    webhook_secret: str = _env("webhook_secret", "HMAC-SHA256 key signing JSON and DingTalk webhooks", "change-me")
    topic_alerts_deadletter: str = _env(
        "topic_alerts_deadletter",
        "output: alerts a channel could not take, with every attempt",
        "redwall.alerts-deadletter.v1",
    )
    deliver_metrics_port: int = _env("deliver_metrics_port", "port of the delivery process's /metrics", 9102)
    console_port: int = _env("console_port", "port of the dispatcher console (`redwall console`)", 6070)
    worker_url: str = _env(
        "worker_url",
        "where the console posts dispatchers' actions: a worker's API, e.g. "
        "http://worker:6066 (empty: http://REDWALL_WEB_HOST:REDWALL_WEB_PORT)",
        "",
    )
    action_verdict_seconds: float = _env(
        "action_verdict_seconds",
        "how long POST /v1/incidents/{id}/actions waits for the engine's verdict before "
        "answering 202 (accepted, verdict not yet known)",
        3.0,
    )
    console_session_hours: float = _env(
        "console_session_hours", "how long a console sign-in lasts before the dispatcher signs in again", 12.0
    )
    credentials_reload_seconds: float = _env(
        "credentials_reload_seconds",
        "how often workers and the console compare their credentials with Postgres, "
        "reloading in full on a difference (changes arrive at once by LISTEN/NOTIFY)",
        60.0,
    )
    sink_batch_size: int = _env("sink_batch_size", "most Kafka records one sink write takes", 5000)
    sink_batch_seconds: float = _env("sink_batch_seconds", "longest a sink waits to fill a batch", 0.2)
    escalation_rules_path: Path = _env(
        "escalation_rules", "TOML with the escalation rules (levels, deadlines, zones, ceiling)", ESCALATION_RULES
    )
    hotline_path: Path = _env(
        "hotline", "TOML with the 12345 work orders' limits, category map, placement and rates", HOTLINE
    )
    task_rules_path: Path = _env(
        "task_rules", "TOML with the tasks' limits per kind, their early warning and the GPS arrival rule", TASK_RULES
    )
    calendar_path: Path = _env(
        "calendar", "TOML with the working calendar: working hours per weekday, the cover required", CALENDAR
    )
    holidays_path: Path = _env(
        "holidays",
        "folder of <year>.toml holiday arrangements (State Council notices) for years chinesecalendar lacks",
        HOLIDAYS,
    )
    topic_hotline: str = _env("topic_hotline", "input: 12345 work orders and their events", "redwall.hotline.v1")
    topic_hotline_located: str = _env(
        "topic_hotline_located",
        "output: 12345 orders placed in the street, with their limits; their events",
        "redwall.hotline-located.v1",
    )
    topic_task_actions: str = _env(
        "topic_task_actions", "input: tasks given to a person and their answers", "redwall.task-actions.v1"
    )
    topic_tasks: str = _env("topic_tasks", "output: task events (audit trail)", "redwall.tasks.v1")
    hotline_clock_seconds: float = _env(
        "hotline_clock_seconds", "how often a worker looks for 12345 orders near or past their limits", 15.0
    )
    roster_path: Path = _env("roster", "TOML with the patrol roster: workers, grids, teams, duty shifts", SAMPLE_ROSTER)
    clock: str = _env(
        "clock", "system (wall time), or event (now = newest event seen: replays and tests only)", "system"
    )
    clock_event_ack: bool = _env(
        "clock_event_ack", "must be true for REDWALL_CLOCK=event, so it is never on by accident", False
    )
    patrol_grace_seconds: float = _env("patrol_grace_seconds", "outside the assigned grid this long = off post", 120.0)
    patrol_dwell_seconds: float = _env("patrol_dwell_seconds", "back inside this long before off post clears", 60.0)
    patrol_offline_seconds: float = _env("patrol_offline_seconds", "on duty and no good fix this long = offline", 300.0)
    patrol_edge_buffer_m: float = _env(
        "patrol_edge_buffer_m", "a fix is outside only beyond its accuracy plus this", 5.0
    )
    patrol_tick_seconds: float = _env("patrol_tick_seconds", "how often patrol timers check deadlines (wall time)", 1.0)
    patrol_group_seconds: float = _env(
        "patrol_group_seconds", "patrol alerts of one grid within this window are one", 60.0
    )
    patrol_coverage_grace_seconds: float = _env(
        "patrol_coverage_grace_seconds", "a grid short of workers this long raises a coverage gap", 120.0
    )
    roster_refresh_seconds: float = _env(
        "roster_refresh_seconds", "how often workers re-read the roster from Postgres", 10.0
    )
    gps_max_accuracy_m: float = _env("gps_max_accuracy_m", "fixes less accurate than this never drive a decision", 50.0)
    presence_silence_seconds: float = _env(
        "presence_silence_seconds",
        "who was here: a device silent longer than this inside a place has left it (the gap ends a visit)",
        120.0,
    )
    gps_max_speed_mps: float = _env(
        "gps_max_speed_mps", "a jump faster than this from the last good fix is a teleport", 50.0
    )
    gps_future_seconds: float = _env("gps_future_seconds", "fixes stamped further ahead than this are refused", 120.0)
    gps_max_age_seconds: float = _env("gps_max_age_seconds", "fixes older than this on arrival are refused", 900.0)
    advisory_window_seconds: float = _env("advisory_window_seconds", "hot spots count reports over this window", 3600.0)
    advisory_min_reports: int = _env("advisory_min_reports", "reports in one H3 cell that make it a hot spot", 3)
    advisory_repeat_seconds: float = _env(
        "advisory_repeat_seconds", "the same hot-spot advisory is not repeated within this", 1800.0
    )
    advisory_every_seconds: float = _env(
        "advisory_every_seconds", "how often a worker looks for hot spots to advise", 30.0
    )
    position_retention_days: int = _env(
        "position_retention_days",
        "days of position history kept (UTC days, dropped whole); also silent devices' latest positions and GPS flags",
        30,
    )
    position_days_ahead: int = _env(
        "position_days_ahead", "days of position partitions made ahead; fixes stamped later are not stored", 3
    )
    dead_letter_retention_days: int = _env(
        "dead_letter_retention_days", "days rejected records (with their bytes) are kept", 30
    )
    retention_interval_seconds: float = _env(
        "retention_interval_seconds", "how often `redwall sink` applies retention", 3600.0
    )

    # Limits on what comes in (streams/http/limits.py). Bodies are capped before they are read whole.
    max_body_bytes: int = _env("max_body_bytes", "largest HTTP request body in bytes; a larger one gets 413", 262_144)
    device_rate_per_second: float = _env(
        "device_rate_per_second", "ingest requests one device may keep up per second (0: no limit); more get 429", 2.0
    )
    device_burst: int = _env("device_burst", "ingest requests one device may send at once above that rate", 20)
    rate_limit_max_devices: int = _env(
        "rate_limit_max_devices", "devices one worker tracks for rate limits; past it the idlest are forgotten", 100_000
    )
    ingest_max_future_seconds: float = _env(
        "ingest_max_future_seconds", "a posted event time further ahead than this is refused (clock skew)", 3600.0
    )
    ingest_max_age_days: float = _env("ingest_max_age_days", "a posted event time older than this is refused", 30.0)
    # Secured connections (config/kafka_security.py, config/pg_security.py); empty file names mean unused.
    kafka_security_protocol: str = _env(
        "kafka_security_protocol", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", "PLAINTEXT"
    )
    kafka_sasl_mechanism: str = _env(
        "kafka_sasl_mechanism", "with SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", "SCRAM-SHA-512"
    )
    kafka_username: str = _env("kafka_username", "with SASL_*: the user name", "")
    kafka_password: str = _env("kafka_password", "with SASL_*: the password (or REDWALL_KAFKA_PASSWORD_FILE)", "")
    kafka_password_file: str = _env(
        "kafka_password_file", "with SASL_*: a file holding the password (Docker secret)", ""
    )
    kafka_ssl_ca_file: str = _env(
        "kafka_ssl_ca_file", "with SSL/SASL_SSL: PEM CA of the brokers (empty: system CAs)", ""
    )
    kafka_ssl_cert_file: str = _env("kafka_ssl_cert_file", "with SSL/SASL_SSL: client certificate PEM (mutual TLS)", "")
    kafka_ssl_key_file: str = _env("kafka_ssl_key_file", "with SSL/SASL_SSL: the client certificate's key PEM", "")
    pg_ssl_root_cert: str = _env(
        "pg_ssl_root_cert", "PEM CA of PostgreSQL; set: TLS verify-full (certificate and host name checked)", ""
    )
    pg_password_file: str = _env("pg_password_file", "a file holding the PostgreSQL password (Docker secret)", "")
    pg_role_secrets_dir: str = _env(
        "pg_role_secrets_dir",
        "for `redwall migrate` as the owner: a directory of pg_worker_password, pg_sink_password, "
        "pg_deliver_password, pg_console_password, pg_grafana_password; set: it makes or updates each process's "
        "login role with that password (sinks/grants.py); empty: no login role is made",
        "",
    )
    report_at: str = _env(
        "report_at",
        "when `redwall sink` makes and sends last week's 专报: a weekday and HH:MM in the street's time zone "
        "(off: this sink makes none)",
        "Mon 08:00",
    )
    report_catch_up_weeks: int = _env(
        "report_catch_up_weeks",
        "how many weeks before the due one the Monday job also makes when their report is missing (it failed "
        "until the next Monday), back to the street's last stored one; 0: the due week only",
        4,
    )
    console_url: str = _env(
        "console_url",
        "the console's public base URL, for the links in reports' alerts (empty: the console's path only)",
        "",
    )
    connect_timeout_seconds: float = _env(
        "connect_timeout_seconds",
        "how long `redwall migrate` and each process's first connection keep trying "
        "PostgreSQL and Kafka (started beside them) before giving up",
        60.0,
    )
    kafka_session_seconds: float = _env(
        "kafka_session_seconds",
        "a consumer-group member silent this long loses its partitions; a join waits about half of it "
        "on Tansu (Apache Kafka refuses less than its group.min.session.timeout.ms, 6 s by default)",
        6.0,
    )
    kafka_idle_seconds: float = _env(
        "kafka_idle_seconds",
        "a read of a whole topic (a worker's rebuild, delivery's reminders) ends once the broker has had "
        "nothing more for this long",
        1.0,
    )

    @property
    def input_topics(self) -> tuple[str, ...]:
        return (
            self.topic_reports,
            self.topic_pings,
            self.topic_actions,
            self.topic_hotline,
            self.topic_task_actions,
        )

    @property
    def all_topics(self) -> tuple[str, ...]:
        return self.input_topics + (
            self.topic_located_reports,
            self.topic_positions,
            self.topic_deadletter,
            self.topic_incidents,
            self.topic_patrol,
            self.topic_alerts,
            self.topic_alerts_deadletter,
            self.topic_hotline_located,
            self.topic_tasks,
        )

    @property
    def kafka_heartbeat_seconds(self) -> float:
        """A sixth of the session: a member misses several heartbeats before it is dropped."""
        return self.kafka_session_seconds / 6

    @property
    def database_dsn(self) -> str:
        """What every asyncpg connection uses: DATABASE_URL with the PG TLS and password-file settings folded in."""
        return pg_security.dsn(self)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, addresses: DemoAddresses | None = None, **overrides
    ) -> Settings:
        """Read every setting from the environment; a bad value names the variable and the fix.
        `addresses`, the file a running demo leaves (config/addresses.py), fills in what the environment
        does not set; a stale one (its demo has stopped) is not read."""
        environ = os.environ if environ is None else environ
        if addresses is not None and addresses.live:
            environ = {**addresses.values, **environ}
        values = {}
        for f in dataclasses.fields(cls):
            name = f.metadata["env"]
            if name in environ and f.name not in overrides:
                values[f.name] = _parse(name, environ[name], f.default, f.metadata["doc"])
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        checks = [
            (_is_zone(self.timezone), "timezone", "use an IANA time zone name such as Asia/Shanghai"),
            (9 <= self.h3_resolution <= 14, "h3_resolution", "use 9..14; 12 suits 5 m GPS"),
            (self.partitions >= 1, "partitions", "use a positive number"),
            (0 < self.web_port < 65536, "web_port", "use a TCP port 1..65535"),
            (
                0 < self.worker_metrics_port < 65536 and self.worker_metrics_port != self.web_port,
                "worker_metrics_port",
                "use a TCP port 1..65535 other than REDWALL_WEB_PORT's",
            ),
            (0 < self.sink_metrics_port < 65536, "sink_metrics_port", "use a TCP port 1..65535"),
            (self.max_pings_per_batch >= 1, "max_pings_per_batch", "use a positive number"),
            (self.sink_batch_size >= 1, "sink_batch_size", "use a positive number"),
            (self.sink_batch_seconds > 0, "sink_batch_seconds", "use a positive number of seconds"),
            (self.geometry_path.is_file(), "geometry_path", f"no file at {self.geometry_path}; point it at a GeoJSON"),
            (self.routing_path.is_file(), "routing_path", f"no file at {self.routing_path}; point it at a TOML"),
            (0 < self.deliver_metrics_port < 65536, "deliver_metrics_port", "use a TCP port 1..65535"),
            (0 < self.console_port < 65536, "console_port", "use a TCP port 1..65535"),
            (
                self.worker_url == "" or _is_http_url(self.worker_url),
                "worker_url",
                "use http(s)://HOST:PORT of a worker's API, without a path (or leave it empty)",
            ),
            (self.console_session_hours > 0, "console_session_hours", "use a positive number of hours, e.g. 12"),
            (self.credentials_reload_seconds > 0, "credentials_reload_seconds", "use a positive number of seconds"),
            (0 <= self.action_verdict_seconds <= 60, "action_verdict_seconds", "use 0..60 seconds (3 by default)"),
            (
                self.major_events_path.is_file(),
                "major_events_path",
                f"no file at {self.major_events_path}; point it at a TOML",
            ),
            ("://" in self.database_url, "database_url", "use a DSN like postgresql://user@host:5432/db"),
            (self.clock in ("system", "event"), "clock", "use system (production) or event (replays, tests)"),
            (
                self.clock != "event" or self.clock_event_ack,
                "clock",
                "event time is for replays and tests; also set REDWALL_CLOCK_EVENT_ACK=true if that is what you want",
            ),
            (
                self.escalation_rules_path.is_file(),
                "escalation_rules_path",
                f"no file at {self.escalation_rules_path}; point it at an escalation rules TOML",
            ),
            (
                self.hotline_path.is_file(),
                "hotline_path",
                f"no file at {self.hotline_path}; point it at a hotline TOML",
            ),
            (self.roster_path.is_file(), "roster_path", f"no file at {self.roster_path}; point it at a roster TOML"),
            (
                min(
                    self.patrol_grace_seconds,
                    self.patrol_dwell_seconds,
                    self.patrol_offline_seconds,
                    self.patrol_tick_seconds,
                    self.patrol_group_seconds,
                    self.roster_refresh_seconds,
                )
                > 0,
                "patrol_grace_seconds",
                "every REDWALL_PATROL_*_SECONDS must be a positive number",
            ),
            (
                self.gps_max_accuracy_m > 0 and self.gps_max_speed_mps > 0,
                "gps_max_accuracy_m",
                "REDWALL_GPS_MAX_ACCURACY_M and REDWALL_GPS_MAX_SPEED_MPS must be positive",
            ),
            (self.presence_silence_seconds > 0, "presence_silence_seconds", "use a positive number of seconds (120)"),
            (self.advisory_min_reports >= 1, "advisory_min_reports", "use a positive number of reports"),
            (self.advisory_every_seconds > 0, "advisory_every_seconds", "use a positive number of seconds"),
            (self.hotline_clock_seconds > 0, "hotline_clock_seconds", "use a positive number of seconds (15)"),
            (self.max_body_bytes >= 1024, "max_body_bytes", "use at least 1024 bytes (262144 = 256 KiB)"),
            (
                self.device_rate_per_second >= 0 and self.device_burst >= 1,
                "device_rate_per_second",
                "REDWALL_DEVICE_RATE_PER_SECOND must be >= 0 (0: no limit) and REDWALL_DEVICE_BURST >= 1",
            ),
            (self.rate_limit_max_devices >= 1, "rate_limit_max_devices", "use a positive number of devices"),
            (
                self.ingest_max_future_seconds > 0 and self.ingest_max_age_days > 0,
                "ingest_max_future_seconds",
                "REDWALL_INGEST_MAX_FUTURE_SECONDS and REDWALL_INGEST_MAX_AGE_DAYS must be positive",
            ),
            (1 <= self.position_retention_days <= 3660, "position_retention_days", "use a number of days, 1..3660"),
            (1 <= self.position_days_ahead <= 31, "position_days_ahead", "use a number of days, 1..31"),
            (
                1 <= self.dead_letter_retention_days <= 3660,
                "dead_letter_retention_days",
                "use a number of days, 1..3660",
            ),
            (
                self.retention_interval_seconds >= 1,
                "retention_interval_seconds",
                "use at least 1 second (3600: hourly)",
            ),
            (
                self.report_at == "off" or report_moment(self.report_at) is not None,
                "report_at",
                'use a weekday and a local time, e.g. "Mon 08:00" (Mon Tue Wed Thu Fri Sat Sun, HH:MM), or off',
            ),
            (
                0 <= self.report_catch_up_weeks <= 52,
                "report_catch_up_weeks",
                "use a number of weeks, 0..52 (4 by default; 0: only the week due)",
            ),
            (
                self.console_url == "" or _is_http_url(self.console_url, path=True),
                "console_url",
                "use http(s)://HOST[:PORT][/PATH] of the console as people reach it, without a query (or leave it empty)",
            ),
            (
                0 <= self.connect_timeout_seconds <= 3600,
                "connect_timeout_seconds",
                "use 0..3600 seconds (0: one attempt; 60 by default)",
            ),
            (1 <= self.kafka_session_seconds <= 300, "kafka_session_seconds", "use 1..300 seconds (6 by default)"),
            (0 < self.kafka_idle_seconds <= 60, "kafka_idle_seconds", "use a positive number of seconds up to 60"),
        ]
        for ok, name, fix in checks:
            if not ok:
                env = _field(name).metadata["env"]
                raise ConfigError(f"environment: {env}={getattr(self, name)} is invalid: {fix}")
        named = (*self.all_topics, self.topic_patrol_changelog)
        if len(set(named)) != len(named):
            raise ConfigError("environment: REDWALL_TOPIC_* names must all differ")
        kafka_security.validate(self)
        pg_security.validate(self)

    def describe(self) -> list[tuple[str, str, object]]:
        """(variable, doc, value) for every setting, for `redwall settings`."""
        return [(f.metadata["env"], f.metadata["doc"], getattr(self, f.name)) for f in dataclasses.fields(self)]


def _is_zone(name: str) -> bool:
    from schemas.display import zone

    try:
        return zone(name) is not None
    except ValueError:
        return False


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_REPORT_AT = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([01][0-9]|2[0-3]):([0-5][0-9])")


def report_moment(text: str) -> tuple[int, time] | None:
    """REDWALL_REPORT_AT as (weekday, 0 = Monday; local time), or None when it is not "Ddd HH:MM"."""
    match = _REPORT_AT.fullmatch(text.strip())
    if match is None:
        return None
    return WEEKDAYS.index(match[1]), time(int(match[2]), int(match[3]))


def _is_http_url(url: str, *, path: bool = False) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and (path or parts.path in ("", "/"))
        and not (parts.query or parts.fragment)
    )


def _field(name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(Settings) if f.name == name)


def _parse(env: str, raw: str, default, doc: str):
    kind = type(default)
    try:
        if kind is bool:
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(default, Path):
            return Path(raw).expanduser()
        return kind(raw)
    except ValueError:
        raise ConfigError(f"environment: {env}={raw!r} is not a {kind.__name__} ({doc})") from None
