"""Task rules from TOML (config/tasks.toml), checked at start-up: the limits of each kind of task, the share
of a limit at which it warns, and what confirms an arrival by GPS. Every error names the file, the key and
the fix. The task book (streams/tasks/book.py) only ever asks these objects.

A limit is calendar time (`2h`) or working time (`2wh`, `1wd`), counted by the working calendar
(config/calendar.py), as escalation's and 12345's are."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from config.files import TomlChecker, read_toml
from config.settings import TASK_RULES
from config.spans import Span
from schemas.tasks import DEADLINES, KINDS


@dataclass(frozen=True)
class ArrivalRule:
    """When fixes confirm that a worker is at a task's place (streams/tasks/arrival.py)."""

    dwell: timedelta  # inside this long without a break
    radius_m: float  # a point's radius when the task names none
    accuracy_cap_m: float  # a fix's accuracy widens the radius by at most this
    poor_accuracy_m: float  # a fix less accurate than this never counts
    gap: timedelta  # inside fixes further apart start a new dwell


@dataclass(frozen=True)
class TaskRules:
    path: Path
    limits: Mapping[str, Mapping[str, Span]]  # kind -> deadline (arrive, done) -> limit
    warn_at: float
    arrival: ArrivalRule


def load_task_rules(path: Path = TASK_RULES) -> TaskRules:
    """Parse and check the file; raise ConfigError naming the file, the key and the fix."""
    path = Path(path)
    data = read_toml(path, "the task rules")
    c = TomlChecker(path)
    c.known(data, "", {"warn_at", "limits", "arrival"})
    limits, arrival = c.table(data, "limits"), c.table(data, "arrival")
    c.known(limits, "limits.", set(KINDS))
    c.known(arrival, "arrival.", {"dwell", "radius_m", "accuracy_cap_m", "poor_accuracy_m", "gap"})
    rule = ArrivalRule(
        dwell=c.duration(arrival, "arrival.dwell"),
        radius_m=c.number(arrival, "arrival.radius_m", 1, 1000),
        accuracy_cap_m=c.number(arrival, "arrival.accuracy_cap_m", 0, 500),
        poor_accuracy_m=c.number(arrival, "arrival.poor_accuracy_m", 1, 1000),
        gap=c.duration(arrival, "arrival.gap"),
    )
    if rule.dwell > timedelta(hours=1):  # a dwell no phone keeps up would never confirm an arrival
        raise c.fail("arrival.dwell", f"{rule.dwell} is longer than an hour", 'use a few minutes at most, e.g. "60s"')
    return TaskRules(
        path=path,
        limits={kind: _limits(c, limits, kind) for kind in KINDS},
        warn_at=_share(c, data.get("warn_at")),
        arrival=rule,
    )


def _share(c: TomlChecker, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.05 <= value <= 0.99:
        raise c.fail("warn_at", f"{value!r} is not a share in 0.05..0.99", "use the share of a limit, e.g. 0.8")
    return float(value)


def _limits(c: TomlChecker, limits: dict, kind: str) -> dict[str, Span]:
    table = c.table(limits, kind, f"limits.{kind}")
    c.known(table, f"limits.{kind}.", set(DEADLINES))
    return {deadline: c.span(table, f"limits.{kind}.{deadline}") for deadline in DEADLINES}
