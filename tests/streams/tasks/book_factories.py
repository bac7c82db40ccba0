"""The task book tests' setting: the sample task rules, the default working calendar with the illustrative
holidays, Beijing times, points a given number of metres north of a task's place, and records made as the
worker's HTTP layer and geofence make them, checked against their published schemas."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from config.calendar import load_calendar
from config.crs import METRES_PER_DEGREE
from config.settings import CALENDAR, SAMPLE_HOLIDAYS
from config.tasks import load_task_rules
from schemas.records import Alert
from schemas.tasks import TaskAction, TaskEvent
from streams.tasks.book import TaskBook

TZ = "Asia/Shanghai"
STREET = "xichangan"
CAL = load_calendar(CALENDAR, SAMPLE_HOLIDAYS, TZ, today=date(2026, 12, 6))
RULES = load_task_rules()
CENTRE = {"lat": 39.91, "lng": 116.37}
COURTYARD = "c01-g01-y001"
WORKER = "dev-w1"
CREATORS = {
    "street": {"subject": "disp-street", "role": "street"},
    "community": {"subject": "disp-c01", "role": "community", "community": "c01"},
    "grid_chief": {"subject": "dev-chief", "role": "grid_chief", "community": "c01"},
}


def bj(text: str) -> datetime:
    """A Beijing wall-clock time: `2026-12-08 10:00` or `2026-12-08 10:00:30`."""
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00")


def book(**kwargs) -> TaskBook:
    return TaskBook(RULES, CAL, TZ, STREET, **kwargs)


def create(task: str, when: datetime, **extra) -> dict:
    """A create as the HTTP layer completes it: a verify_report to WORKER's point (30 m) in grid c01-g01."""
    action = {
        "id": f"act-{task}-create",
        "action": "create",
        "task": task,
        "actor": "disp-c01",
        "time": when.isoformat(),
        "device": WORKER,
        "kind": "verify_report",
        "note": "核实上报的堆物",
        "creator": CREATORS["community"],
        "location": dict(CENTRE),
        "radius_m": 30,
        "street": STREET,
        "community": "c01",
        "grid": "c01-g01",
        **extra,
    }
    return TaskAction.validate(action)


def step(verb: str, task: str, when: datetime, actor: str = WORKER, **extra) -> dict:
    action = {"id": f"act-{task}-{verb}-{when:%H%M%S}", "action": verb, "task": task, "actor": actor}
    return TaskAction.validate({**action, "time": when.isoformat(), **extra})


def fix(when: datetime, north_m: float = 0.0, accuracy: float = 5.0, courtyard: str | None = None) -> dict:
    """A located fix `north_m` metres north of CENTRE (its distance from it, on the equirectangular scale)."""
    ping = {"time": when.isoformat(), "lat": CENTRE["lat"] + north_m / METRES_PER_DEGREE, "lng": CENTRE["lng"]}
    ping.update(accuracy=accuracy, street=STREET, community="c01", grid="c01-g01")
    return {**ping, "courtyard": courtyard} if courtyard else ping


def batch(*pings: dict, device: str = WORKER) -> dict:
    return {"device": device, "pings": list(pings)}


def stay(start: datetime, seconds: int, every: int = 10, **where) -> list[dict]:
    """Fixes every `every` seconds from `start` for `seconds`, both ends included."""
    return [fix(start + timedelta(seconds=s), **where) for s in range(0, seconds + 1, every)]


def checked(out: tuple[list[dict], list[dict]]) -> tuple[list[dict], list[dict]]:
    """Every event and alert the book makes must pass its published schema."""
    events, alerts = out
    for event in events:
        TaskEvent.validate(event)
    for alert in alerts:
        Alert.validate(alert)
    return events, alerts
