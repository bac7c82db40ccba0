"""An incident's state, its deterministic id, and what one input to the engine produced."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from datetime import datetime

OPEN = frozenset({"assigned", "acknowledged"})


def incident_id(community: str, report_id: str) -> str:
    """Deterministic, and carrying the community: an action finds its incident's street, and so its partition,
    from the id alone (streams/escalation/keys.py)."""
    return f"inc-{community}-{hashlib.sha1(report_id.encode()).hexdigest()[:12]}"


def community_of(incident: str) -> str:
    return incident[4:-13]


def parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass
class Incident:
    id: str
    street: str
    community: str
    grid: str | None
    category: str
    severity: str
    priority: str
    cell: str
    status: str
    level: str
    owner: str
    opened_at: datetime
    last_report_at: datetime
    reports: int = 1
    ack_by: datetime | None = None
    resolve_by: datetime | None = None
    flags: set[str] = field(default_factory=set)
    seq: int = 0
    closed_at: datetime | None = None  # when it was resolved or closed; the engine forgets it later
    # Deadlines missed with no level left to escalate to (deadline_missed): kept, so the incident
    # shows as overdue since then, and never fired again.
    missed: dict[str, datetime] = field(default_factory=dict)
    # The clocks' inputs, as they stand in the state (streams/escalation/clocks.py computes ack_by and
    # resolve_by from them): the rules' version, the limits per level, the current clock, the open pause,
    # the requests waiting for the street, the deadlines warned for, and what is left while stopped.
    rules: str | None = None
    limits: dict | None = None
    clock: dict | None = None
    pause: dict | None = None
    requests: list[dict] = field(default_factory=list)
    warned: dict[str, str] = field(default_factory=dict)
    remaining: dict[str, float] = field(default_factory=dict)
    warn_at: dict[str, datetime] = field(default_factory=dict)  # when each warning falls (not in the state)
    courtyard: str | None = None  # the courtyard (院落) of the report that opened it, when it lies in one

    def state(self) -> dict:
        s = {
            "status": self.status,
            "level": self.level,
            "owner": self.owner,
            "priority": self.priority,
            "opened_at": self.opened_at.isoformat(),
            "reports": self.reports,
            "last_report_at": self.last_report_at.isoformat(),
            "cluster_cell": self.cell,
            "flags": sorted(self.flags),
        }
        if self.ack_by:
            s["ack_by"] = self.ack_by.isoformat()
        if self.resolve_by:
            s["resolve_by"] = self.resolve_by.isoformat()
        if self.missed:
            s["missed"] = {kind: due.isoformat() for kind, due in sorted(self.missed.items())}
        for key in ("rules", "limits", "clock", "pause", "requests", "warned", "remaining"):
            if getattr(self, key):
                s[key] = copy.deepcopy(getattr(self, key))  # an event keeps the state it was made with
        return s

    @classmethod
    def from_event(cls, e: dict) -> Incident:
        s, t = copy.deepcopy(e["state"]), parse_time
        return cls(
            e["incident"],
            e["street"],
            e["community"],
            e.get("grid"),
            e["category"],
            e["severity"],
            s["priority"],
            s["cluster_cell"],
            s["status"],
            s["level"],
            s["owner"],
            t(s["opened_at"]),
            t(s["last_report_at"]),
            int(s["reports"]),
            t(s.get("ack_by")),
            t(s.get("resolve_by")),
            set(s["flags"]),
            int(e["seq"]),
            t(e["when"]) if s["status"] in ("resolved", "closed") else None,
            {kind: t(due) for kind, due in s.get("missed", {}).items()},
            s.get("rules"),
            s.get("limits"),
            s.get("clock"),
            s.get("pause"),
            list(s.get("requests", [])),
            dict(s.get("warned", {})),
            dict(s.get("remaining", {})),
            courtyard=e.get("courtyard"),
        )


@dataclass
class Outcome:
    """What one input caused: incident events to publish, alerts to publish, alerts held back as stale (the
    street of each, for the metrics), and reports to publish again to the located reports (an unlocated one
    the street placed)."""

    events: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    reports: list[dict] = field(default_factory=list)
