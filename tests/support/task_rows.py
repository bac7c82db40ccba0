"""Task events as the tasks agent publishes them (schemas/tasks.py TaskEvent, validated), and a small street of
hand-made tasks written through the real TaskSink, for the tests of sinks/tasks.py and the console's task API.

From T0 (2026-12-06 14:00 in Beijing), minutes:
  task-a  dev A, c01, courtyard c01-g01-y01: created 0, accepted 2, arrived 10, done 20; a refused `done` (act-a9)
  task-b  dev A, c01, grid c01-g01: created 30, open
  task-c  dev B, c02, grid c02-g01: created 5, cancelled 15
  task-d  dev B, c02, grid c02-g01: created 40, warned 50, late 60 (arrival)
  a refused `accept` of task-zz, which nobody knows (act-zz)
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from schemas.tasks import TaskEvent

T0 = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
COURTYARD, GRID_A, GRID_C = "c01-g01-y01", "c01-g01", "c02-g01"


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def device(run: str, key: str) -> str:
    return f"tasks-{run}-{key}"


def task_state(task: str, dev: str, community: str, grid: str, created: float, **more) -> dict:
    state = {
        "id": task,
        "kind": "visit_courtyard",
        "status": "open",
        "device": dev,
        "creator": {"subject": f"disp-{community}", "role": "community", "community": community},
        "note": "入院走访",
        "street": "xichangan",
        "community": community,
        "grid": grid,
        "location": {"lat": 39.8964, "lng": 116.3572},
        "radius_m": 30.0,
        "created_at": at(created),
        "limits": {"arrive": "30m", "done": "2h"},
        "arrive_by": at(created + 30),
        "done_by": at(created + 120),
        "unconfirmed": "no",
        "late": {},
        "warned": {},
        "seq": 1,
    }
    return state | more


def event(state: dict, kind: str, minutes: float, *, actor: str | None = None, **more) -> dict:
    """The event `kind` at `minutes` after T0 carrying `state` as it stands after it (its seq is the state's)."""
    task, seq = state["id"], int(state["seq"])
    record = {
        "id": f"{task}:{seq}",
        "task": task,
        "seq": seq,
        "event": kind,
        "when": at(minutes),
        "device": state["device"],
        "actor": actor or state["device"],
        "state": copy.deepcopy(state),
    } | more
    return TaskEvent.validate(record)


def street(run: str) -> list[dict]:
    """Every event of the tasks above, in topic order per task."""
    a, b, c = device(run, "A"), device(run, "B"), task_id(run, "a")
    s = task_state(c, a, "c01", GRID_A, 0, courtyard=COURTYARD)
    events = [event(s, "created", 0, actor="disp-c01")]
    s |= {"status": "accepted", "accepted_at": at(2), "seq": 2}
    events.append(event(s, "accepted", 2, action="act-a2"))
    s |= {"status": "arrived", "arrived_at": at(9), "arrive_seconds": 540.0, "seq": 3}
    events.append(event(s, "arrived", 10, actor="gps"))
    s |= {"status": "done", "done_at": at(20), "done_note": "已登记", "seq": 4}
    events.append(event(s, "done", 20, action="act-a4"))
    events.append(event(s, "refused", 21, action="act-a9", reason="任务已完成"))
    s = task_state(task_id(run, "b"), a, "c01", GRID_A, 30)
    events.append(event(s, "created", 30, actor="disp-c01"))
    s = task_state(task_id(run, "c"), b, "c02", GRID_C, 5)
    events.append(event(s, "created", 5, actor="disp-c02"))
    s |= {"status": "cancelled", "seq": 2}
    events.append(event(s, "cancelled", 15, actor="disp-c02", action="act-c2", reason="重复派发"))
    s = task_state(task_id(run, "d"), b, "c02", GRID_C, 40)
    events.append(event(s, "created", 40, actor="disp-c02"))
    s |= {"warned": {"arrive": at(70)}, "seq": 2}
    events.append(event(s, "warned", 50, actor="clock", reason="arrive"))
    s |= {"late": {"arrive": at(70)}, "seq": 3}
    events.append(event(s, "late", 70, actor="clock", reason="arrive"))
    unknown = {
        "id": f"{task_id(run, 'zz')}:0",
        "task": task_id(run, "zz"),
        "seq": 0,
        "event": "refused",
        "when": at(3),
        "device": a,
        "actor": a,
        "action": "act-zz-" + run,
        "reason": "没有这个任务",
    }
    return events + [TaskEvent.validate(unknown)]


def task_id(run: str, key: str) -> str:
    return f"task-{run}-{key}"
