"""The task book: tasks to a person from their actions, the worker's fixes and the clock, as TaskEvents (each
with the task's whole state) and alerts. Pure: times come in as arguments, nothing is read or written.

create -> `created` (open); accept by the task's own device -> `accepted`; fixes that dwell inside its
place -> `arrived` (arrival.py); done by its own device -> `done` (`unconfirmed` "yes" without an arrival);
cancel -> `cancelled`. An action that does not fit -> one `refused` event with the reason in Chinese and no
change; a repeated one (at-least-once delivery) -> nothing. Each deadline (arrive, done) warns at `warn_at`
of its limit and is late at the limit, once each, from a heap; an action or an arrival first fires what
fell due before it, so the events read the same however often the clock ticks.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType

from config.calendar import NotCovered, WorkingCalendar
from config.spans import Span, parse_span
from config.tasks import TaskRules
from schemas.display import TASK_ACTION, TASK_STATUS
from schemas.tasks import CLOSED, DEADLINES
from streams.tasks.alerts import TaskWords
from streams.tasks.arrival import Dwell
from streams.tasks.timers import Out, TaskTimers

KEEP_CLOSED = 5000  # closed tasks remembered, so a redelivered done or cancel answers nothing, not "unknown"
_NEEDED = ("device", "kind", "creator", "location")
_OPTIONAL = ("community", "grid", "courtyard", "incident", "report")
_EVENT = {"accept": "accepted", "done": "done", "cancel": "cancelled"}
_REPEATED = {"done": "done", "cancel": "cancelled"}  # an action that finds its own status made it before


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


class TaskBook(TaskTimers):
    """Every open task of the devices one worker owns, their GPS dwells and their timers."""

    def __init__(
        self,
        rules: TaskRules,
        calendar: WorkingCalendar,
        tz: str,
        street: str | None,
        names: Callable[[str], str] = lambda device: device,
        places: Callable[[str], str] = lambda place_id: place_id,
    ):
        self.rules, self.calendar = rules, calendar
        self.words = TaskWords(tz, street, names, places)
        self.watched: set[str] = set()  # devices with an open task: only their fixes are looked at
        self._open: dict[str, dict] = {}
        self._closed: OrderedDict[str, dict] = OrderedDict()
        self._by_device: dict[str, set[str]] = {}
        self._dwells: dict[str, Dwell] = {}
        self._due: dict[str, dict[tuple[str, str], datetime]] = {}  # task -> (deadline, warn|late) -> instant
        self._timers: list[tuple[datetime, str, str, str]] = []  # (at, task, deadline, warn|late)

    def tasks(self) -> Mapping[str, dict]:
        return MappingProxyType(self._open)

    # -- actions ----------------------------------------------------------------------------------------
    def act(self, action: dict, now: datetime) -> Out:
        """One validated TaskAction (a create completed by the HTTP layer), processed at `now`."""
        task = self._open.get(action["task"]) or self._closed.get(action["task"])
        if action["action"] == "create":
            return ([], []) if task is not None else self._create(action)
        why = self._unfit(action, task)
        if why is None:
            return [], []
        if why:
            return [self._refused(action, task, why)], []
        # What fell due before the person acted fires first; a phone's clock ahead of ours fires nothing early.
        events, alerts = self._settle(task, min(_time(action["time"]), now), now)
        events.append(self._step(task, action))
        if task["status"] in CLOSED:  # what was late is settled now: its reminders stop
            gone = [d for d in task["late"] if d == "done" or "arrived_at" not in task]
            alerts += [self.words.cleared(task, d, _time(action["time"]), now) for d in gone]
        return events, alerts

    def _create(self, action: dict) -> Out:
        missing = [key for key in _NEEDED if key not in action]
        if missing:
            return [self._refused(action, None, f"派发缺少 {missing[0]}")], []
        try:
            limits, created = self._limits(action), _time(action["time"])
            due = {d: self.calendar.deadline(created, span).astimezone(created.tzinfo) for d, span in limits.items()}
        except (ValueError, NotCovered):  # NotCovered is a ValueError: a limit past the years the calendar knows
            return [self._refused(action, None, "时限无效或超出工作日历已知的年份，请改短时限")], []
        state = {
            "id": action["task"],
            "kind": action["kind"],
            "status": "open",
            "device": action["device"],
            "creator": action["creator"],
            "note": action.get("note", ""),
            "street": action.get("street") or self.words.street,
            **{key: action[key] for key in _OPTIONAL if action.get(key)},
            "location": action["location"],
            "radius_m": action.get("radius_m", self.rules.arrival.radius_m),
            "created_at": action["time"],
            "limits": {d: span.text for d, span in limits.items()},
            "arrive_by": due["arrive"].isoformat(),
            "done_by": due["done"].isoformat(),
            "unconfirmed": "no",
            "late": {},
            "warned": {},
            "seq": 0,
        }
        self._register(state)
        return [self._event(state, "created", action["time"], action["actor"], action=action["id"])], []

    def _limits(self, action: dict) -> dict[str, Span]:
        """The creator's own limits, else the kind's (ValueError for a limit written wrong)."""
        kind = self.rules.limits[action["kind"]]
        return {d: parse_span(action[f"{d}_within"]) if action.get(f"{d}_within") else kind[d] for d in DEADLINES}

    def _unfit(self, action: dict, task: dict | None) -> str | None:
        """Why the action does not fit the task; "" when it does; None when it was done already."""
        verb = action["action"]
        if verb not in ("accept", "done", "cancel"):
            return f"未知操作：{verb}"
        if task is None:
            return "没有这项任务（或已结束多时）"
        status = task["status"]
        if verb != "cancel" and action["actor"] != task["device"]:
            return f"只有任务的执行人（{task['device']}）可以{TASK_ACTION[verb]}"
        if (verb == "accept" and "accepted_at" in task) or status == _REPEATED.get(verb):
            return None
        if status in CLOSED:
            return f"任务{TASK_STATUS[status]}，不能{TASK_ACTION[verb]}"
        return ""

    def _step(self, task: dict, action: dict) -> dict:
        verb, when = action["action"], action["time"]
        if verb == "accept":
            task["accepted_at"] = when
            task["status"] = "accepted" if task["status"] == "open" else task["status"]
        elif verb == "done":
            task.update(status="done", done_at=when, done_note=action.get("note", ""))
            task["unconfirmed"] = "no" if "arrived_at" in task else "yes"
            if action.get("report"):
                task["done_report"] = action["report"]
        else:
            task["status"] = "cancelled"
        event = self._event(task, _EVENT[verb], when, action["actor"], action=action["id"])
        if task["status"] in CLOSED:
            self._close(task)
        return event

    # -- fixes ------------------------------------------------------------------------------------------
    def fixes(self, batch: dict) -> Out:
        """One PositionBatch of a device: the arrivals its fixes confirm."""
        if batch["device"] not in self.watched:
            return [], []
        events, alerts = [], []
        pings = sorted(((_time(p["time"]), p) for p in batch["pings"]), key=lambda pair: pair[0])
        for task_id in sorted(self._by_device[batch["device"]]):
            dwell = self._dwells.get(task_id)
            if dwell is None:
                continue  # arrived already
            for when, ping in pings:
                first = dwell.feed(ping, when)
                if first is not None:
                    self._arrive(self._open[task_id], first, when, events, alerts)
                    break
        return events, alerts

    def _arrive(self, task: dict, first: datetime, confirmed: datetime, events: list, alerts: list) -> None:
        more, warned = self._settle(task, first, confirmed)
        events += more
        alerts += warned
        task.update(status="arrived", arrived_at=first.isoformat())
        task["arrive_seconds"] = (first - _time(task["created_at"])).total_seconds()
        del self._dwells[task["id"]]
        events.append(self._event(task, "arrived", task["arrived_at"], "gps"))
        if "arrive" in task["late"]:  # late, but there now
            alerts.append(self.words.cleared(task, "arrive", confirmed, confirmed))

    # -- the book ---------------------------------------------------------------------------------------
    def restore(self, event: dict) -> None:
        """Take a TaskEvent's state (from PostgreSQL or the topic) when it is newer than the book's."""
        state = event.get("state")
        known = None if state is None else self._open.get(state["id"]) or self._closed.get(state["id"])
        if state is None or (known is not None and known["seq"] >= state["seq"]):
            return
        state, task_id = _copy(state), state["id"]
        if state["status"] in CLOSED:
            if task_id in self._open:
                self._close(self._open[task_id])
            self._remember(state)
        elif task_id in self._open:  # its deadlines never move: its timers stand
            self._open[task_id] = state
            if "arrived_at" in state:
                self._dwells.pop(task_id, None)
        else:
            self._closed.pop(task_id, None)
            self._register(state)

    def _register(self, task: dict) -> None:
        self._open[task["id"]] = task
        self._by_device.setdefault(task["device"], set()).add(task["id"])
        self.watched.add(task["device"])
        if "arrived_at" not in task:
            self._dwells[task["id"]] = Dwell(task, _time(task["created_at"]), self.rules.arrival)
        self._schedule(task)

    def _close(self, task: dict) -> None:
        """A done or cancelled task leaves the book (the sink keeps it) and its device's watch."""
        del self._open[task["id"]]
        mine = self._by_device[task["device"]]
        mine.discard(task["id"])
        if not mine:
            del self._by_device[task["device"]]
            self.watched.discard(task["device"])
        self._dwells.pop(task["id"], None)
        del self._due[task["id"]]
        self._remember(task)

    def _remember(self, task: dict) -> None:
        self._closed[task["id"]] = task
        while len(self._closed) > KEEP_CLOSED:
            self._closed.popitem(last=False)

    # -- events -----------------------------------------------------------------------------------------
    def _event(self, task: dict, event: str, when: str, actor: str, **extra) -> dict:
        task["seq"] += 1
        record = {"id": f"{task['id']}:{task['seq']}", "task": task["id"], "seq": task["seq"], "event": event}
        return {**record, "when": when, "device": task["device"], "actor": actor, **extra, "state": _copy(task)}

    @staticmethod
    def _refused(action: dict, task: dict | None, reason: str) -> dict:
        record = {
            "id": f"{action['task']}:refused:{action['id']}",
            "task": action["task"],
            "seq": task["seq"] if task else 0,
            "event": "refused",
            "when": action["time"],
            "device": task["device"] if task else action.get("device") or action["actor"],
            "actor": action["actor"],
            "action": action["id"],
            "reason": reason,
        }
        return {**record, "state": _copy(task)} if task else record


def _copy(task: dict) -> dict:
    """The state as an event carries it: the parts the book changes later copied."""
    return {**task, "late": dict(task["late"]), "warned": dict(task["warned"])}
