"""Least privilege in PostgreSQL: what each Redwall process may do, declared once here and applied by
`redwall migrate` after every migration.

Roles. The owner (the role `redwall migrate` runs as: POSTGRES_USER in docker-compose) owns every table,
view and function; only it migrates, drops, alters, truncates, creates in the schema, issues and revokes
credentials (`redwall devices|dispatchers`) and loads the roster. Each process logs in as its own role:

| role | process | may |
|---|---|---|
| `redwall_worker` | `redwall worker` | read credentials, the roster and major events, patrol state, latest positions and reports (hot spots); claim advisories |
| `redwall_sink` | `redwall sink`, `redwall retention` | write reports, positions, dead letters, incidents, patrol events, weekly reports; read what the weekly report counts; make and drop days of `positions` through two owner functions, never a table itself |
| `redwall_deliver` | `redwall deliver` | write the delivery log (`alert_notifications`, `alert_deliveries`) |
| `redwall_console` | `redwall console` | read credentials, incidents with their reports and history, the roster, patrol status, latest positions and the position history (who was here), patrol events and GPS flags (the daily patrol summary), tasks, weekly reports |
| `grafana_reader` | Grafana's data source | read everything but credentials |

With REDWALL_PG_ROLE_SECRETS_DIR set, `redwall migrate` makes these login roles, or sets their passwords,
from the files `pg_worker_password`, `pg_sink_password`, `pg_deliver_password`, `pg_console_password` and
`pg_grafana_password` there (a trailing newline is not part of a password; any other character is). It
sends PostgreSQL a SCRAM verifier, never the password (sinks/scram.py), and changes a password only when
its file did (an owner that may not read pg_authid sets it again each run, which changes nothing else). Each process then sets DATABASE_URL to its role (`postgresql://redwall_sink@postgres:5432/redwall`)
and REDWALL_PG_PASSWORD_FILE to its file. Empty (the default), no login role is made; grants still go to
the roles that exist. A role that exists with more power (superuser, CREATEROLE, CREATEDB, REPLICATION,
BYPASSRLS, or a member of another role) stops `migrate`, naming it and the fix.

Every run takes away whatever these roles held and grants exactly what `TABLES` and `FUNCTIONS` say, in one
transaction; PUBLIC keeps no CREATE in the schema, no EXECUTE of the functions and, once a process role
exists, no right on the database (a login that is neither the owner nor a process role cannot connect).
A table or view missing from `TABLES` is reachable by no process (and fails tests/sinks/test_grants.py).
"""

from __future__ import annotations

PROCESSES = {  # name in the tables below: (login role, its password file in REDWALL_PG_ROLE_SECRETS_DIR)
    "worker": ("redwall_worker", "pg_worker_password"),
    "sink": ("redwall_sink", "pg_sink_password"),
    "deliver": ("redwall_deliver", "pg_deliver_password"),
    "console": ("redwall_console", "pg_console_password"),
    "grafana": ("grafana_reader", "pg_grafana_password"),
}

# Every table and view of the schema, in PostgreSQL's own letters (as `\dp` shows them): r SELECT,
# a INSERT, w UPDATE, d DELETE, - nothing. INSERT brings USAGE of the table's own sequences.
TABLES = """
table                    worker  sink  deliver  console  grafana
schema_migrations        r       r     r        r        r
streets                  -       r     -        r        r
communities              -       r     -        r        r
grids                    -       r     -        r        r
courtyards               -       r     -        r        r
reports                  r       raw   -        r        r
positions                -       ra    -        r        r
latest_positions         r       rawd  -        r        r
dead_letters             -       rad   -        -        r
incidents                r       raw   -        r        r
incident_events          r       ra    -        r        r
incident_reports         r       raw   -        r        r
weekly_ceiling_exceeded  -       -     -        -        r
roster_shifts            r       r     -        r        r
roster_workers           r       r     -        r        r
major_event_periods      r       r     -        -        r
patrol_events            -       raw   -        r        r
patrol_status            r       raw   -        r        r
position_flags           -       rad   -        r        r
alert_notifications      -       -     raw      -        r
alert_deliveries         -       -     ra       -        r
credentials              r       -     -        r        -
patrol_advisories        raw     r     -        -        r
sink_offsets             r       raw   -        -        r
runtime_major_events     r       raw   -        -        r
hotline_orders           r       rawd  -        r        r
hotline_order_events     -       rad   -        r        r
hotline_clock_alerts     raw     rd    -        r        r
weekly_reports           -       raw   -        r        r
tasks                    r       raw   -        r        r
task_events              r       ra    -        r        r
task_refusals            -       ra    -        r        r
"""
# Why some cells: the sink reads `positions` to stage fixes in a temporary table like it and to count a day
# before retention drops it; `grids` for the patrol gauges. The worker reads `reports` for hot spots and the
# unlocated queue, `latest_positions` to rebuild patrol state (never the position history), and the
# incidents, their history, `sink_offsets` and `runtime_major_events` to rebuild its incidents
# (streams/escalation/rebuild.py); the tasks and their events to rebuild its tasks agent and to answer a
# phone's GET /v1/tasks. The console reads the roster's shifts and the patrol status for who should go to a task
# (sinks/task_candidates.py), and the places' names for the 12345 rates (sinks/hotline_rates.py); the sink reads
# the clock alerts' keys to delete those of expired orders. The sink
# makes the weekly 专报 (consumers/report/schedule.py), whose figures read every table of the week but the
# credentials and the delivery log: hence its reading the places, major events, advisories and the roster (the
# patrol summary's shifts, sinks/patrol_day.py), which the console reads for the daily summary too.

# Who may EXECUTE each function of the schema. The partition functions run as the owner (SECURITY DEFINER,
# migration 0009), so the sink makes and drops days of `positions` without owning any table.
FUNCTIONS = {
    "positions_create_partition(date)": ("sink",),
    "positions_drop_partition(date)": ("sink",),
    "credentials_notify()": (),
    # The coarse cell of a fix (migration 0017): the sink's inserts compute it for their index, the console's
    # who-was-here reads by it.
    "position_cell(double precision,double precision)": ("sink", "console"),
    "position_cells(double precision,double precision,double precision,double precision)": (
        "console",
    ),  # the credentials trigger's: it runs whoever writes
}
TEMPORARY = ("sink",)  # may make temporary tables (the sink stages fixes in one); everyone may CONNECT

_LETTERS = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}


def role(process: str) -> str:
    return PROCESSES[process][0]


def table_grants() -> dict[str, dict[str, tuple[str, ...]]]:
    """table -> login role -> privileges (SQL words), from `TABLES`; roles with nothing are left out."""
    header, *rows = [line.split() for line in TABLES.strip().splitlines()]
    processes = header[1:]
    if processes != list(PROCESSES):
        raise ValueError(f"sinks/grants.py: TABLES columns {processes} must be {list(PROCESSES)}")
    grants = {}
    for table, *cells in rows:
        if len(cells) != len(processes) or any(set(c) - set(_LETTERS) and c != "-" for c in cells):
            raise ValueError(f"sinks/grants.py: TABLES row {table!r}: one cell per process, of r a w d or -")
        grants[table] = {
            role(p): tuple(_LETTERS[x] for x in "rawd" if x in cell) for p, cell in zip(processes, cells) if cell != "-"
        }
    return grants


def function_grants() -> dict[str, tuple[str, ...]]:
    """function signature -> the login roles that may execute it."""
    return {function: tuple(role(p) for p in processes) for function, processes in FUNCTIONS.items()}
