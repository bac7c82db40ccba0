"""A task's timers: for each deadline (arrive, done) the early warning (`warned`, 任务临期) at `warn_at` of
its limit, counted in the limit's own measure on the working calendar, and the `late` (任务超时) at the
limit; once each, never after the deadline was met or the task closed. Mixed into `TaskBook`; pure, like it.

A task's deadlines never move (no pause, no extension), so each timer is pushed on a heap once, when the task
is created or restored, and checked against the task when it comes due: `tick` only ever looks at what is
due, whatever the number of open tasks."""

from __future__ import annotations

import heapq
from datetime import datetime

from config.spans import parse_span
from schemas.tasks import DEADLINES

MARK = {"warn": "warned", "late": "late"}  # a timer's event, and the key of the state recording it
Out = tuple[list[dict], list[dict]]  # (TaskEvents, Alerts)


class TaskTimers:
    """TaskBook's clocks; expects its rules, calendar, words, open tasks and `_event`."""

    def _schedule(self, task: dict) -> None:
        created, due = datetime.fromisoformat(task["created_at"]), {}
        for deadline in DEADLINES:
            share = parse_span(task["limits"][deadline]) * self.rules.warn_at
            due[deadline, "warn"] = self.calendar.deadline(created, share).astimezone(created.tzinfo)
            due[deadline, "late"] = datetime.fromisoformat(task[f"{deadline}_by"])
        self._due[task["id"]] = due
        for (deadline, what), at in due.items():
            heapq.heappush(self._timers, (at, task["id"], deadline, what))

    def tick(self, now: datetime) -> Out:
        """Every warning and late due by `now`, earliest first."""
        events, alerts = [], []
        while self._timers and self._timers[0][0] <= now:
            at, task_id, deadline, what = heapq.heappop(self._timers)
            task = self._open.get(task_id)
            if task is not None:  # closed since it was scheduled: nothing more fires
                self._fire(task, deadline, what, at, now, now, (events, alerts))
        return events, alerts

    def _settle(self, task: dict, upto: datetime, now: datetime) -> Out:
        """The task's timers due by `upto` (an action's or an arrival's time) that the clock has not fired
        yet: so a step reads after what fell due before it, however often the clock ticks."""
        out = [], []
        for (deadline, what), at in sorted(self._due[task["id"]].items(), key=lambda item: item[1]):
            if at <= upto:
                self._fire(task, deadline, what, at, upto, now, out)
        return out

    def _fire(self, task: dict, deadline: str, what: str, at: datetime, upto: datetime, now: datetime, out: Out):
        if self._pending(task, deadline, what) != at:
            return  # fired already, or its deadline met
        if what == "warn" and self._pending(task, deadline, "late") <= upto:
            return  # a warning after its own deadline says nothing: the late says it
        task[MARK[what]][deadline] = task[f"{deadline}_by"]
        out[0].append(self._event(task, MARK[what], at.isoformat(), "clock", reason=deadline))
        out[1].append(self.words.alert(task, deadline, what, at, now))

    def _pending(self, task: dict, deadline: str, what: str) -> datetime | None:
        """When the timer falls, while it may still fire."""
        if deadline in task["late"] or (deadline == "arrive" and "arrived_at" in task):
            return None
        if what == "warn" and deadline in task["warned"]:
            return None
        return self._due[task["id"]][deadline, what]
