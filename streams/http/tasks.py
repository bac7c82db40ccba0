"""HTTP for tasks to a person: POST /v1/tasks, GET /v1/tasks, POST /v1/tasks/{task}/actions.

Who may do what:
- create: a community or street dispatcher (a community one inside its community), or a grid leader's phone
  (roster role grid_chief) for a worker of its own grid; the worker must be on the roster.
- read: a phone reads its own tasks; a dispatcher those of its scope (PostgreSQL, as the sink wrote them:
  a task created a moment ago shows once the sink has it, within about a second).
- accept, done: the task's own phone; cancel: a community or street dispatcher.

The edge completes a create (the place from the geometry: a courtyard's grid, community and centre, or a point's
grid) and produces it to redwall.task-actions.v1 keyed by the worker's device, where the tasks agent holding
that device's positions takes it (streams/tasks/agents.py). Answers are 202: the transition is the agent's to
judge, and a step that does not fit comes back as a `refused` event in the task's history.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import faust
from faust.web import Request, Response, View

from config.roster import Roster
from schemas import json
from schemas.fields import FieldError, now_rfc3339
from schemas.records import UNLOCATED
from schemas.tasks import TaskAction
from sinks.credentials import Credential
from sinks.patrol import read_roster
from sinks.tasks import owner_of, tasks_in_scope, tasks_of_device
from streams.credentials import CredentialCache
from streams.geofence.registry import GridRegistry
from streams.http.auth import authenticate
from streams.http.ingest import read_json
from streams.http.refusal import Refused
from streams.metrics import WorkerMetrics
from streams.produce import Out, send_all
from streams.scope import refusal, street_scope

GRID_LEADER = "grid_chief"
CLOSED_SHOWN = timedelta(days=1)  # a phone still sees what it finished today
DEVICE_ACTIONS, DISPATCHER_ACTIONS = ("accept", "done"), ("cancel",)


class Forbidden(Refused):
    def __init__(self, field: str, reason: str, label: str = "role"):
        super().__init__(403, [FieldError(field, reason)], labels=[label], title="forbidden")


def install(
    app: faust.App,
    settings,
    registry: GridRegistry,
    metrics: WorkerMetrics,
    credentials: CredentialCache,
    roster: Callable[[], Roster],
    pool,
    default_radius_m: float,
) -> None:
    topic = settings.topic_task_actions
    places = TaskPlaces(registry, default_radius_m)

    class _Tasks(View):
        def refuse(self, refused: Refused) -> Response:
            for label in refused.reasons():
                metrics.rejected.labels(topic, "http", label).inc()
            return refused.answer("invalid task")

        async def send(self, action: dict) -> None:
            await send_all(app.producer, [Out(topic, action["device"].encode(), json.dumps(action))])

    @app.page("/v1/tasks")
    class Tasks(_Tasks):
        async def roster_knowing(self, body, who: Credential) -> Roster:
            """The roster in hand, or the stored one when it lacks a device the request names: a worker that
            has just started, or a worker added since the last refresh, is not refused for that."""
            held = roster()
            named = [who.subject] if who.kind == "device" else []
            named += [body["device"]] if isinstance(body, dict) and isinstance(body.get("device"), str) else []
            if all(d in held.workers for d in named):
                return held
            stored, _ = await read_roster(await pool())
            return stored

        """POST a task for one worker (dispatcher or grid leader); GET the caller's tasks."""

        async def post(self, request: Request) -> Response:
            try:
                who = await authenticate(credentials, ("dispatcher", "device"), request.headers)
                body = await read_json(request)
                action = creation(body, who, await self.roster_knowing(body, who), places)
            except Refused as refused:
                return self.refuse(refused)
            await self.send(action)
            return self.json({"task": action["task"], "device": action["device"], "accepted": action["id"]}, status=202)

        async def get(self, request: Request) -> Response:
            try:
                who = await authenticate(credentials, ("dispatcher", "device"), request.headers)
            except Refused as refused:
                return self.refuse(refused)
            if who.kind == "device":
                since = datetime.now(UTC) - CLOSED_SHOWN
                found = await tasks_of_device(await pool(), who.subject, include_closed_since=since)
            else:
                community = who.community if who.role == "community" else None
                found = await tasks_in_scope(
                    await pool(),
                    community=community,
                    street=street_scope(who, registry.geometry),
                    status="open",
                    since=None,
                    device=request.query.get("device"),
                )
            # Written once by the records' encoder (times as RFC 3339), not decoded and encoded again.
            return self.bytes(json.dumps({"tasks": found}), content_type="application/json")

    @app.page("/v1/tasks/{task}/actions")
    class TaskActions(_Tasks):
        """POST {action: accept|done|cancel, note?, report?, id?, time?}: 202, judged by the tasks agent."""

        async def post(self, request: Request, task: str) -> Response:
            try:
                who = await authenticate(credentials, ("dispatcher", "device"), request.headers)
                action = step(task, await read_json(request), who)
                if who.kind == "dispatcher":
                    action["device"] = await _owner(await pool(), task, who, registry.geometry)
            except Refused as refused:
                return self.refuse(refused)
            await self.send(action)
            return self.json({"task": task, "accepted": action["id"]}, status=202)


async def _owner(pool, task: str, who: Credential, geometry) -> str:
    """The task's device, for a dispatcher who may act on it; another street's or community's task is unknown
    to them (404), as in the console."""
    found = await owner_of(pool, task)
    if found is None or refusal(who, found[1] or UNLOCATED, geometry):
        raise Refused(404, [FieldError("task", "no such task (a task created a moment ago: retry in a second)")])
    return found[0]


class TaskPlaces:
    """Where a task sends its worker, completed from the geometry."""

    def __init__(self, registry: GridRegistry, default_radius_m: float):
        self.registry, self.default_radius_m = registry, default_radius_m

    def complete(self, action: dict) -> None:
        """Fill street, community, grid and location from the courtyard or the point; Refused naming the field."""
        courtyard = action.get("courtyard")
        if courtyard is not None:
            area = self.registry.courtyards.get(courtyard)
            if area is None:
                raise Refused(422, [FieldError("courtyard", f"{courtyard!r:.80} is not a courtyard of the street")])
            if "location" not in action:
                lng, lat = area.centre
                action["location"] = {"lat": lat, "lng": lng}
        if "location" not in action:
            raise Refused(422, [FieldError("location", "missing: name a courtyard or give a point {lat, lng}")])
        place = self.registry.locate(action["location"]["lat"], action["location"]["lng"])
        if place.street is None:
            raise Refused(422, [FieldError("location", "lies outside every grid of the street")])
        grid = area.parent if courtyard is not None else place.grid  # a named courtyard's own grid
        street = self.registry.geometry.street_of(grid)
        action.update(street=street, grid=grid, community=self.registry.grids[grid].parent)
        action.setdefault("radius_m", self.default_radius_m)


def creation(body, who: Credential, roster: Roster, places: TaskPlaces) -> dict:
    """The `create` a request asks for, completed and checked; Refused naming the field and the reason."""
    if not isinstance(body, dict):
        raise Refused(422, [FieldError("(body)", "must be a JSON object: one task")])
    leader = roster.workers.get(who.subject) if who.kind == "device" else None
    if who.kind == "device" and (leader is None or leader.role != GRID_LEADER):
        raise Forbidden("Authorization", "only a grid leader's phone (roster role grid_chief) may create tasks")
    if who.kind == "dispatcher" and who.role == "read":
        raise Forbidden("Authorization", f"dispatcher {who.subject} has role read: it may only look")
    fields = {k: v for k, v in body.items() if k not in ("id", "action", "actor", "time", "creator")}
    creator = {"subject": who.subject, "role": GRID_LEADER if leader else who.role}
    if leader or who.community:
        creator["community"] = who.community or places.registry.grids[leader.grid].parent
    action = {
        **fields,
        "id": f"tact-{uuid.uuid4().hex}",
        "action": "create",
        "task": body.get("id") or f"task-{uuid.uuid4().hex[:16]}",
        "actor": who.subject,
        "time": now_rfc3339(),
        "creator": creator,
    }
    action = _valid(action)
    for field in ("device", "kind"):
        if field not in action:
            raise Refused(422, [FieldError(field, "missing")])
    worker = roster.workers.get(action["device"])
    if worker is None:
        raise Refused(422, [FieldError("device", f"{action['device']!r:.80} is not on the roster")])
    places.complete(action)
    _in_scope(action, who, leader, worker.grid, places.registry.geometry)
    return action


def _in_scope(action: dict, who: Credential, leader, worker_grid: str, geometry) -> None:
    if leader is not None and worker_grid != leader.grid:
        raise Forbidden(
            "device", f"{action['device']} works in grid {worker_grid}; grid leader {who.subject} leads {leader.grid}"
        )
    if who.kind == "dispatcher":
        why_not = refusal(who, action["community"], geometry)
        if why_not:
            raise Forbidden("location", why_not.replace("incident", "task"))
        street, worker_street = street_scope(who, geometry), geometry.street_of(worker_grid)
        if street is not None and worker_street != street:
            raise Forbidden(
                "device", f"{action['device']} works in street {worker_street}; {who.subject} acts in {street}"
            )


def step(task: str, body, who: Credential) -> dict:
    """accept / done by the task's phone, cancel by a dispatcher; Refused naming the field otherwise."""
    if not isinstance(body, dict):
        raise Refused(422, [FieldError("(body)", "must be a JSON object: one action")])
    allowed = DEVICE_ACTIONS if who.kind == "device" else DISPATCHER_ACTIONS
    if body.get("action") not in allowed:
        who_is = "a phone" if who.kind == "device" else "a dispatcher"
        raise Forbidden("action", f"{who_is} may {' or '.join(allowed)} a task, got {body.get('action')!r:.40}")
    if who.kind == "dispatcher" and who.role == "read":
        raise Forbidden("Authorization", f"dispatcher {who.subject} has role read: it may only look")
    action = {
        "id": body.get("id") or f"tact-{uuid.uuid4().hex}",
        "time": body.get("time") or now_rfc3339(),
        **{k: v for k, v in body.items() if k in ("action", "note", "report")},
        "task": task,
        "actor": who.subject,
    }
    if who.kind == "device":
        action["device"] = who.subject
    return _valid(action)


def _valid(action: dict) -> dict:
    try:
        return TaskAction.validate(action)
    except FieldError as error:
        raise Refused(422, error.each()) from None
