"""The simulated dispatchers' desk (pure, no I/O): who acts on which open incident, with what, and when.

Each incident gets, at each level it reaches, a plan drawn from its id, so a restarted desk draws the same
one. Below the street a share `neglect` is never acknowledged: its deadline passes and the engine escalates
it, as happens on a busy day. Every other one is acknowledged within the first part of what is left of its
acknowledge window, then resolved within the first part of its resolve window. The street lets nothing go
(小事不出社区，大事不出街道). Delays are fractions of the incident's own deadlines, so they follow the rules
and major-event periods. The community's dispatcher acts on grid and community incidents, the street's on
the rest. A share `pause` of the acknowledged ones is first paused (挂起, waiting for the resident), approved
by the street after a while, and resumed a while later (PAUSE_WAIT), then resolved like the others.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

STREET = "sim-street"
ACK_SHARE = (0.15, 0.7)  # of the time left to the acknowledge-by when first seen
RESOLVE_SHARE = (0.05, 0.4)  # of the time left to the resolve-by when acknowledged
RETRY_AFTER = timedelta(seconds=15)
APPROVE_WAIT = (timedelta(seconds=20), timedelta(seconds=60))  # the street answers a pause within
PAUSE_WAIT = (timedelta(seconds=60), timedelta(seconds=180))  # an approved pause lasts
MAX_TRIES = 4
REASONS = {
    "ack": ("已签收，网格员前往现场", "已签收，联系报告人核实", "已签收，协调物业处理"),
    "resolve": ("已处置完毕，现场复核无误", "已协调相关部门办结", "已整改到位，回访满意"),
    "pause": ("居民不在家，约定明日上门", "需居民提供材料，等待中"),
    "approve": ("同意挂起",),
    "resume": ("居民已回复，恢复处置",),
}
# What an answer of the action endpoint means for the step: finished, or worth another try later.
FINISHED = {"done", "refused", "unknown", "invalid", "forbidden"}


def dispatcher_names(communities: list[str]) -> dict[str, str | None]:
    """{name: community} of the simulated dispatchers: one per community and the street's (None)."""
    return {**{f"sim-{c}": c for c in communities}, STREET: None}


@dataclass(frozen=True)
class OpenIncident:
    id: str
    community: str
    level: str
    status: str  # assigned or acknowledged
    ack_by: datetime | None
    resolve_by: datetime | None
    pause: str | None = None  # None, "waiting" (for the street's approval) or "approved"


@dataclass(frozen=True)
class Step:
    incident: str
    level: str
    action: str  # ack, resolve, pause, approve, resume
    actor: str
    id: str  # the same for every try, so the engine takes it once
    reason: str
    key: tuple = ()  # the plan it carries out
    extra: dict = field(default_factory=dict)  # pause_reason, request: what the action needs besides


@dataclass
class _Plan:
    due: datetime | None  # None: left to escalate
    tries: int = 0
    finished: bool = False


@dataclass
class Desk:
    dispatchers: dict[str, str | None]
    neglect: float = 0.12
    ack_share: tuple[float, float] = ACK_SHARE
    resolve_share: tuple[float, float] = RESOLVE_SHARE
    pause: float = 0.15
    plans: dict[tuple, _Plan] = field(default_factory=dict)  # (incident, level, status, pause, resumed)
    resumed: set[str] = field(default_factory=set)  # incidents paused once: the next step is resolve

    def due(self, incidents: list[OpenIncident], now: datetime) -> list[Step]:
        """The steps whose time has come; plans of incidents no longer open are forgotten."""
        keys = {(i.id, i.level, i.status, i.pause, i.id in self.resumed): i for i in incidents}
        self.plans = {k: p for k, p in self.plans.items() if k in keys}
        self.resumed &= {i.id for i in incidents}
        steps = []
        for key, incident in keys.items():
            plan = self.plans.get(key) or self.plans.setdefault(key, self._plan(incident, now))
            if not plan.finished and plan.due is not None and plan.due <= now:
                steps.append(self._step(incident, key))
        return steps

    def answered(self, step: Step, outcome: str, now: datetime) -> None:
        """What the endpoint said: a finished step is not tried again; another is, a little later."""
        if step.action in ("pause", "resume") and outcome in FINISHED:  # paused once: then resolved
            self.resumed.add(step.incident)
        plan = self.plans.get(step.key)
        if plan is None:
            return
        plan.tries += 1
        plan.finished = outcome in FINISHED or plan.tries >= MAX_TRIES
        plan.due = now + RETRY_AFTER

    def _plan(self, incident: OpenIncident, now: datetime) -> _Plan:
        draw = _draw(incident.id, incident.level, incident.pause or "", "wait")
        if incident.pause == "waiting":
            return _Plan(now + APPROVE_WAIT[0] + (APPROVE_WAIT[1] - APPROVE_WAIT[0]) * draw)
        if incident.pause == "approved":
            return _Plan(now + PAUSE_WAIT[0] + (PAUSE_WAIT[1] - PAUSE_WAIT[0]) * draw)
        if incident.status == "assigned":
            if incident.level in ("grid", "community") and _draw(incident.id, incident.level, "neglect") < self.neglect:
                return _Plan(None)
            return _Plan(_within(now, incident.ack_by, self.ack_share, _draw(incident.id, incident.level, "ack")))
        return _Plan(
            _within(now, incident.resolve_by, self.resolve_share, _draw(incident.id, incident.level, "resolve"))
        )

    def _step(self, incident: OpenIncident, key: tuple) -> Step:
        action = self._action(incident)
        actor = f"sim-{incident.community}" if incident.level in ("grid", "community") else STREET
        if actor not in self.dispatchers or action == "approve":
            actor = STREET
        reasons = REASONS[action]
        reason = reasons[int(_draw(incident.id, action, "reason") * len(reasons))]
        extra = {"pause": {"pause_reason": "resident"}, "approve": {"request": _id(incident, "pause")}}
        return Step(
            incident.id, incident.level, action, actor, _id(incident, action), reason, key, extra.get(action, {})
        )

    def _action(self, incident: OpenIncident) -> str:
        if incident.status == "assigned":
            return "ack"
        if incident.pause:
            return "approve" if incident.pause == "waiting" else "resume"
        paused_before = incident.id in self.resumed
        return "pause" if not paused_before and _draw(incident.id, incident.level, "pause") < self.pause else "resolve"


def _id(incident: OpenIncident, action: str) -> str:
    """The same for every try of one step, so the engine takes it once. A case is paused once whatever its
    level, and the approve names its pause by this id."""
    level = "" if action in ("pause", "approve", "resume") else incident.level
    return "act-sim-" + hashlib.sha256(f"{incident.id}|{level}|{action}".encode()).hexdigest()[:24]


def _within(now: datetime, deadline: datetime | None, share: tuple[float, float], draw: float) -> datetime:
    """A moment in the first part of the time left before `deadline` (now, when it has passed)."""
    if deadline is None or deadline <= now:
        return now
    low, high = share
    return now + (deadline - now) * (low + (high - low) * draw)


def _draw(*parts: str) -> float:
    """A number in [0, 1) fixed by `parts`: the same incident always gets the same plan."""
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:12], 16) / 16**12
