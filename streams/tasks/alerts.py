"""The alerts of a task's deadlines, 任务临期 (`task_warning`) and 任务超时 (`task_late`), to the person who
created the task, through the routing tree: a street dispatcher's at the street, a community dispatcher's at
their community, a grid leader's at the task's grid. Chinese first, with the worker's and the place's names
and the deadline in the street's time to the minute. Ids come from the task, the kind and the deadline, so a
transition made twice pages nobody twice. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from schemas.display import ALERT_KIND, TASK_DEADLINE, TASK_KIND, local_minute

KIND = {"warn": "task_warning", "late": "task_late"}  # a timer's alert kind
_PRIORITY = {"task_warning": "normal", "task_late": "high"}
_STILL = {"arrive": ("尚未到场", "not arrived"), "done": ("尚未完成", "not done")}


@dataclass(frozen=True)
class TaskWords:
    """What a task's alerts say, in one street and time zone."""

    tz: str
    street: str | None
    names: Callable[[str], str]  # a worker's name, from the device
    places: Callable[[str], str]  # a courtyard's or grid's name, from its id

    def alert(self, task: Mapping, deadline: str, what: str, at: datetime, now: datetime) -> dict:
        """The Alert of one timer (`what`: warn or late) of one deadline (arrive or done)."""
        kind = KIND[what]
        level, owner = self.owner(task)
        alert = {
            "id": f"{task['id']}:{kind}:{deadline}",
            "kind": kind,
            "status": "firing",
            "level": level,
            "owner": owner,
            "street": task.get("street") or self.street,
            "task": task["id"],
            "severity": "medium",
            "priority": _PRIORITY[kind],
            "title": self._title(task, deadline, kind),
            "body": self._body(task, deadline, what),
            "devices": [task["device"]],
            "event_time": at.isoformat(),
            "created_at": now.isoformat(),
        }
        alert.update({key: task[key] for key in ("community", "grid") if task.get(key)})
        return alert

    def cleared(self, task: Mapping, deadline: str, at: datetime, now: datetime) -> dict:
        """The late alert of `deadline`, resolved: the worker arrived, or the task was done or cancelled (its
        reminders stop there, as a patrol alert's do when the worker is back)."""
        return {**self.alert(task, deadline, "late", at, now), "status": "resolved"}

    def owner(self, task: Mapping) -> tuple[str, str]:
        """(level, owner) of the task's creator: grid leaders own their grid, community dispatchers their
        community; a creator whose place the task does not say falls to the level above."""
        role, community = task["creator"]["role"], task["creator"].get("community") or task.get("community")
        if role == "grid_chief" and task.get("grid"):
            return "grid", task["grid"]
        if role in ("community", "grid_chief") and community:
            return "community", community
        return "street", task.get("street") or self.street

    def _who(self, device: str) -> str:
        name = self.names(device)
        return name if name == device else f"{name}（{device}）"

    def _where(self, task: Mapping) -> str:
        place = task.get("courtyard") or task.get("grid")
        if place:
            return self.places(place)
        return f"({task['location']['lat']:.5f}, {task['location']['lng']:.5f})"

    def _title(self, task: Mapping, deadline: str, kind: str) -> dict:
        missed = kind == "task_late"
        return {
            "zh": f"{ALERT_KIND[kind]}：{self._who(task['device'])} {TASK_DEADLINE[deadline]}"
            f"{'已过' if missed else '将到'}（{self._where(task)}）",
            "en": f"Task {'late' if missed else 'due soon'}: {task['device']}, {deadline} "
            f"{'passed' if missed else 'near'} ({task['id']})",
        }

    def _body(self, task: Mapping, deadline: str, what: str) -> dict:
        due, late = task[f"{deadline}_by"], what == "late"
        note = f"任务说明：{task['note']}" if task["note"] else ""
        still_zh, still_en = _STILL[deadline]
        return {
            "zh": f"{TASK_KIND[task['kind']]}任务 {task['id']}：{self._who(task['device'])}，地点 {self._where(task)}，"
            f"{TASK_DEADLINE[deadline]} {local_minute(due, self.tz)} {'已过' if late else '将到'}，{still_zh}。{note}",
            "en": f"Task {task['id']} ({task['kind']}) for {task['device']} at {self._where(task)}: "
            f"{deadline} by {due} {'has passed' if late else 'is near'}, {still_en}.",
        }
