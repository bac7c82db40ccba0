"""The console's tasks to a person (sinks/tasks.py, sinks/task_candidates.py):

    GET  /api/tasks?status=open|all|<status>&device=&since=   the tasks of the dispatcher's scope
    GET  /api/tasks/candidates?courtyard=ID | ?lat=&lng=      who should go, nearest on-post worker first
    GET  /api/tasks/{id}                                      one task with its events and refusals
    POST /api/tasks, POST /api/tasks/{id}/cancel              passed on to a worker (POST /v1/tasks,
                                                              POST /v1/tasks/{id}/actions) with the dispatcher's token

A community dispatcher reads and acts only in its own community (403 naming the field), street and read
dispatchers read the whole street (a street's dispatchers theirs only, a district's every street); only
community, street and district dispatchers create or cancel. The worker's
answer to a create or cancel is passed back as it is (consumers/console/actions.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from config.geometry import Geometry
from config.tasks import TaskRules
from consumers.console.actions import REASON_MAX, ActionProxy
from consumers.console.reads import fresh_json, from_postgres
from schemas import json
from schemas.fields import FieldError
from schemas.tasks import TASK_STATUSES
from sinks.presence import parse_time
from sinks.task_candidates import candidates, grid_roster
from sinks.tasks import task_detail, tasks_in_scope
from streams.escalation.state import community_of
from streams.geofence.registry import GridRegistry
from streams.http.refusal import Refused, refusal_response
from streams.scope import place_street, sees, street_scope

STATUSES = ("open", "all", *(s for s in TASK_STATUSES if s != "open"))  # "open": neither done nor cancelled
ACTING_ROLES = ("community", "street", "district")


class TaskViews:
    """The routes above; `pool` reads the app's PostgreSQL pool, `actions` passes a step on to a worker."""

    def __init__(
        self,
        geometry: Geometry,
        settings,
        pool: Callable,
        actions: ActionProxy,
        rules: TaskRules,
        now: Callable | None = None,
    ):
        self.geometry, self.pool, self.actions, self.tz = geometry, pool, actions, settings.timezone
        # What the form shows as its placeholders: the limits a create without its own gets, and the radius.
        self.defaults = {
            "limits": {kind: {d: span.text for d, span in limits.items()} for kind, limits in rules.limits.items()},
            "radius_m": rules.arrival.radius_m,
        }
        self.resolution, self.registry = settings.h3_resolution, None
        self.now = now or (lambda: datetime.now(UTC))

    async def listing(self, request: web.Request) -> web.Response:
        query, now = request.query, self.now()
        try:
            status = query.get("status") or "open"
            if status not in STATUSES:
                raise FieldError("status", f"must be one of {', '.join(STATUSES)}")
            since = parse_time(query["since"], "since", self.tz) if query.get("since") else None
        except FieldError as bad:
            return refusal_response(400, bad.reason, [bad])
        scope = dict(
            community=_community(request),
            street=street_scope(request["dispatcher"], self.geometry),
            status=None if status == "all" else status,
            since=since,
        )
        found = await from_postgres(
            lambda db: tasks_in_scope(db, **scope, device=query.get("device") or None), self.pool(), "tasks"
        )
        if isinstance(found, web.Response):
            return found
        return fresh_json({"now": now, "community": scope["community"], "status": status, "tasks": found})

    async def detail(self, request: web.Request) -> web.Response:
        task = request.match_info["task"]
        found = await from_postgres(lambda db: task_detail(db, task), self.pool(), "task")
        if isinstance(found, web.Response):
            return found
        refused = _not_found(task) if found is None else self.outside(request, found["task"], "task")
        return refused or fresh_json(found)

    async def candidates(self, request: web.Request) -> web.Response:
        try:
            field, grid, lat, lng = await self.point(request.query)
        except FieldError as bad:
            return refusal_response(400, bad.reason, [bad])
        except Refused as refused:
            return refused.answer(refused.errors[0].reason)
        refused = self.outside(request, {"community": self.geometry.grids[grid].parent}, field)
        if refused:
            return refused
        now = self.now()

        async def read(db):
            return await candidates(db, await grid_roster(db, grid), grid, lat, lng, now)

        found = await from_postgres(read, self.pool(), "candidates")
        if isinstance(found, web.Response):
            return found
        rows = [{k: v for k, v in dataclasses.asdict(c).items() if k != "grid"} for c in found]
        for row in rows:
            row["distance_m"] = row["distance_m"] if row["distance_m"] is None else round(row["distance_m"], 1)
        body = {"grid": grid, "grid_name": self.geometry.grids[grid].name, "point": {"lat": lat, "lng": lng}}
        return fresh_json({**body, **self.defaults, "now": now, "candidates": rows})

    async def point(self, query) -> tuple[str, str, float, float]:
        """(the field that placed it, grid, lat, lng) of ?courtyard= (its centre) or ?lat=&lng=; FieldError for a
        malformed query, Refused 404 for a courtyard the geometry does not hold, 422 for a point outside the street."""
        if query.get("courtyard"):
            area = self.geometry.courtyards.get(query["courtyard"])
            if area is None:
                reason = f"no courtyard {query['courtyard']!r:.80} in the street's geometry"
                raise Refused(404, [FieldError("courtyard", reason)])
            lng, lat = area.centre
            return "courtyard", area.parent, lat, lng
        if not query.get("lat") and not query.get("lng"):
            raise FieldError("courtyard", "give a courtyard (?courtyard=ID) or a point (?lat=&lng=)")
        lat, lng = _degrees(query, "lat", 90), _degrees(query, "lng", 180)
        place = (await self.located()).locate(lat, lng)
        if place.outside:
            reason = f"({lat}, {lng}) lies in no grid of the street: give a point inside it"
            raise Refused(422, [FieldError("lat", reason)])
        return "lat", place.grid, lat, lng

    async def located(self) -> GridRegistry:
        # Built on first use, off the event loop: about a second for the sample, which the console's start
        # and the pages that never ask need not wait for.
        if self.registry is None:
            self.registry = await asyncio.to_thread(GridRegistry.build, self.geometry, self.resolution)
        return self.registry

    async def create(self, request: web.Request) -> web.Response:
        body = await _body(request)
        refused = self.may_act(request) or (_bad_body() if not isinstance(body, dict) else None)
        if refused:
            return refused
        if street_scope(request["dispatcher"], self.geometry) is not None:
            field, community = await self.community_of(body)
            refused = self.outside(request, {"community": community}, field)
            if refused:
                return refused
        return await self.actions.pass_on(request, "/v1/tasks", body)

    async def cancel(self, request: web.Request) -> web.Response:
        task, body = request.match_info["task"], await _body(request)
        refused = self.may_act(request) or (_bad_body() if not isinstance(body, dict) else None)
        reason = (body.get("reason") or "从调度台撤销") if isinstance(body, dict) else None
        if refused is None and not (isinstance(reason, str) and len(reason) <= REASON_MAX):
            bad = FieldError("reason", f"must be text of at most {REASON_MAX} characters")
            refused = refusal_response(422, "invalid cancel", [bad])
        if refused:
            return refused
        found = await from_postgres(lambda db: task_detail(db, task), self.pool(), "task")
        if isinstance(found, web.Response):
            return found
        refused = _not_found(task) if found is None else self.outside(request, found["task"], "task")
        action = {"action": "cancel", "id": f"console-{uuid.uuid4().hex}", "note": reason}
        return refused or await self.actions.pass_on(request, f"/v1/tasks/{task}/actions", action)

    def may_act(self, request: web.Request) -> web.Response | None:
        who = request["dispatcher"]
        if who.role in ACTING_ROLES:
            return None
        self.actions.refused.labels(who.role).inc()
        reason = (
            f"dispatcher {who.subject} has role {who.role}: only community, street and district dispatchers give tasks"
        )
        return refusal_response(403, reason, [FieldError("role", reason)])

    def outside(self, request: web.Request, place: dict, field: str) -> web.Response | None:
        """The 403 for a place (a task, or {"community": ...}) outside the dispatcher's community or street; a
        task of another street does not exist for it: 404. A place in no community is the worker's to refuse."""
        refused = _outside(request, place.get("community"), field)
        street = place_street(self.geometry, place.get("community"), place.get("street"))
        if refused or street is None or sees(request["dispatcher"], self.geometry, street):
            return refused
        if field == "task":
            return _not_found(place["id"])
        reason = f"dispatcher {request['dispatcher'].subject} works only in its street; this is {street or 'in none'}"
        return refusal_response(403, reason, [FieldError(field, reason)])

    async def community_of(self, body: dict) -> tuple[str, str | None]:
        """(the field that places it, its community) for a task's body: courtyard, grid, point or incident."""
        geometry, courtyard, grid = self.geometry, body.get("courtyard"), body.get("grid")
        if isinstance(courtyard, str) and courtyard:
            area = geometry.courtyards.get(courtyard)
            return "courtyard", area and geometry.grids[area.parent].parent
        if isinstance(grid, str) and grid:
            return "grid", geometry.grids[grid].parent if grid in geometry.grids else None
        where = body.get("location")
        if isinstance(where, dict) and all(isinstance(where.get(k), int | float) for k in ("lat", "lng")):
            return "location", (await self.located()).locate(where["lat"], where["lng"]).community
        incident = body.get("incident")
        return "location", community_of(incident) if isinstance(incident, str) else None


def _community(request: web.Request) -> str | None:
    who = request["dispatcher"]
    return who.community if who.role == "community" else None


def _outside(request: web.Request, community: str | None, field: str) -> web.Response | None:
    """A community dispatcher's 403 for a place outside its community (or none it can be told by)."""
    mine = _community(request)
    if mine is None or community == mine:
        return None
    reason = f"a community dispatcher works only inside {mine}; this is {community or 'in no community of the street'}"
    return refusal_response(403, reason, [FieldError(field, reason)])


def _not_found(task: str) -> web.Response:
    reason = f"no task {task!r:.100} in PostgreSQL"
    return refusal_response(404, reason, [FieldError("task", reason)])


def _bad_body() -> web.Response:
    return refusal_response(400, "body must be a JSON object", [FieldError("(body)", "must be a JSON object")])


async def _body(request: web.Request):
    raw = await request.read()
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        return None


def _degrees(query, field: str, limit: float) -> float:
    try:
        value = float(query.get(field, ""))
    except ValueError:
        raise FieldError(field, f"must be a number of degrees, WGS 84 (got {query.get(field)!r:.40})") from None
    if not -limit <= value <= limit:
        raise FieldError(field, f"must lie within ±{limit} degrees")
    return value
