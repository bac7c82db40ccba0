"""The 生脸 flow (new face): a building head's `new_resident` report becomes a task for the worker on duty in
its grid, chosen by the roster: the on-post worker nearest to the report first (`sinks.tasks.candidates`).

The geofence agent puts an `assign` on redwall.task-actions.v1 keyed by the report's grid (`assignment`); the
tasks agent that takes it asks PostgreSQL who is on duty and where (the patrol status and the latest fixes the
sink keeps) and puts a `create` keyed by the chosen worker's device, which the book of that device's partition
opens. Ids come from the report's, so a report delivered twice opens one task. With nobody on duty in the grid
no task is made (logged and counted); the report's incident, at grid level, still reaches the grid.
"""

from __future__ import annotations

import logging
from datetime import datetime

from schemas import json
from sinks.patrol import read_roster
from sinks.task_candidates import candidates
from streams.produce import Out

log = logging.getLogger(__name__)

NEW_RESIDENT = "new_resident"
ROSTER = "roster"  # the creator of a task the roster chose: its late alerts go to the grid
CREATOR_ROLE = "grid_chief"


def assignment(report: dict) -> dict | None:
    """The `assign` for a located report, when it is a 生脸 report inside a grid."""
    if report.get("category") != NEW_RESIDENT or not report.get("grid"):
        return None
    place = {k: report[k] for k in ("street", "community", "grid", "courtyard") if report.get(k)}
    return {
        "id": f"assign-{report['id']}",
        "action": "assign",
        "task": f"task-{report['id']}",
        "actor": report["device"],
        "time": report["event_time"],
        "kind": "register_resident",
        "note": report.get("text") or "生脸登记",
        "report": report["id"],
        "reported_at": report["event_time"],
        "location": {"lat": report["location"]["lat"], "lng": report["location"]["lng"]},
        **place,
    }


def creation(assign: dict, device: str, radius_m: float) -> dict:
    """The `create` for the worker the roster chose."""
    carried = ("kind", "note", "report", "location", "street", "community", "grid", "courtyard")
    return {
        "id": f"create-{assign['report']}",
        "action": "create",
        "task": assign["task"],
        "actor": ROSTER,
        "time": assign["time"],
        "device": device,
        "creator": {"subject": ROSTER, "role": CREATOR_ROLE, "community": assign["community"]},
        "radius_m": radius_m,
        **{k: assign[k] for k in carried if k in assign},
    }


class Assigner:
    def __init__(self, settings, tasks):
        self.settings, self.tasks = settings, tasks

    async def assign(self, action: dict) -> list[Out]:
        roster, pool = self.tasks.roster(), await self.tasks.pool()
        if not roster.workers:  # the patrol agent has not loaded it yet (a worker just started): the stored one
            roster, _ = await read_roster(pool)
        at = datetime.fromisoformat(action["time"])
        loc = action["location"]
        found = await candidates(pool, roster, action["grid"], loc["lat"], loc["lng"], at)
        if not found:
            self.tasks.metrics.assigned.labels(action.get("street", ""), "nobody_on_duty").inc()
            log.warning(
                "tasks: 生脸 report %s in grid %s: nobody on duty there, no task made", action["report"], action["grid"]
            )
            return []
        self.tasks.metrics.assigned.labels(action.get("street", ""), "assigned").inc()
        create = creation(action, found[0].device, self.tasks.rules.arrival.radius_m)
        return [Out(self.settings.topic_task_actions, create["device"].encode(), json.dumps(create))]
