"""The simulated dispatchers' desk (pure, no I/O): who acts on which open incident, with what, and when.

Each incident gets, at each level it reaches, a plan drawn from its id, so a restarted desk draws the same
one. Below the street a share `neglect` is never acknowledged: its deadline passes and the engine escalates
it, as happens on a busy day. Every other one is acknowledged within the first part of what is left of its
acknowledge window, then resolved within the first part of its resolve window. The street lets nothing go
(小事不出社区，大事不出街道). Delays are fractions of the incident's own deadlines, so they follow the rules
and major-event periods. The community's dispatcher acts on grid and community incidents, the street's on
the rest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

STREET = "sim-street"
ACK_SHARE = (0.15, 0.7)  # of the time left to the acknowledge-by when first seen
RESOLVE_SHARE = (0.05, 0.4)  # of the time left to the resolve-by when acknowledged
RETRY_AFTER = timedelta(seconds=15)
MAX_TRIES = 4
REASONS = {
    "ack": ("已签收，网格员前往现场", "已签收，联系报告人核实", "已签收，协调物业处理"),
    "resolve": ("已处置完毕，现场复核无误", "已协调相关部门办结", "已整改到位，回访满意"),
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


@dataclass(frozen=True)
class Step:
    incident: str
    level: str
    action: str  # ack or resolve
    actor: str
    id: str  # the same for every try, so the engine takes it once
    reason: str


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
    plans: dict[tuple[str, str, str], _Plan] = field(default_factory=dict)  # (incident, level, status)

    def due(self, incidents: list[OpenIncident], now: datetime) -> list[Step]:
        """The steps whose time has come; plans of incidents no longer open are forgotten."""
        keys = {(i.id, i.level, i.status): i for i in incidents}
        self.plans = {k: p for k, p in self.plans.items() if k in keys}
        steps = []
        for key, incident in keys.items():
            plan = self.plans.get(key) or self.plans.setdefault(key, self._plan(incident, now))
            if not plan.finished and plan.due is not None and plan.due <= now:
                steps.append(self._step(incident))
        return steps

    def answered(self, step: Step, outcome: str, now: datetime) -> None:
        """What the endpoint said: a finished step is not tried again; another is, a little later."""
        plan = self.plans.get((step.incident, step.level, "assigned" if step.action == "ack" else "acknowledged"))
        if plan is None:
            return
        plan.tries += 1
        plan.finished = outcome in FINISHED or plan.tries >= MAX_TRIES
        plan.due = now + RETRY_AFTER

    def _plan(self, incident: OpenIncident, now: datetime) -> _Plan:
        if incident.status == "assigned":
            if incident.level in ("grid", "community") and _draw(incident.id, incident.level, "neglect") < self.neglect:
                return _Plan(None)
            return _Plan(_within(now, incident.ack_by, self.ack_share, _draw(incident.id, incident.level, "ack")))
        return _Plan(
            _within(now, incident.resolve_by, self.resolve_share, _draw(incident.id, incident.level, "resolve"))
        )

    def _step(self, incident: OpenIncident) -> Step:
        action = "ack" if incident.status == "assigned" else "resolve"
        actor = f"sim-{incident.community}" if incident.level in ("grid", "community") else STREET
        if actor not in self.dispatchers:
            actor = STREET
        digest = hashlib.sha256(f"{incident.id}|{incident.level}|{action}".encode()).hexdigest()
        reasons = REASONS[action]
        reason = reasons[int(_draw(incident.id, action, "reason") * len(reasons))]
        return Step(incident.id, incident.level, action, actor, f"act-sim-{digest[:24]}", reason)


def _within(now: datetime, deadline: datetime | None, share: tuple[float, float], draw: float) -> datetime:
    """A moment in the first part of the time left before `deadline` (now, when it has passed)."""
    if deadline is None or deadline <= now:
        return now
    low, high = share
    return now + (deadline - now) * (low + (high - low) * draw)


def _draw(*parts: str) -> float:
    """A number in [0, 1) fixed by `parts`: the same incident always gets the same plan."""
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:12], 16) / 16**12
