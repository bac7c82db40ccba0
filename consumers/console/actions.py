"""The console's action proxy: a dispatcher's action from the page, checked against its role, passed to
a worker's POST /v1/incidents/{id}/actions with the dispatcher's own token, and the worker's answer (the
engine's verdict: 200 done, 409 refused, 404 unknown, 422, or 202 still pending) passed back as it is.
Any worker will do (each waits for the verdict of whichever owns the incident): REDWALL_WORKER_URL names
one, or a name that resolves to all of them (docker-compose.yml: the `worker` service)."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping

import aiohttp
from aiohttp import web
from prometheus_client import Counter

from config.geometry import Geometry
from config.spans import parse_span
from schemas import json
from schemas.fields import FieldError
from schemas.openapi import ACTION_NEEDS
from schemas.records import ID_PATTERN, PAUSE_REASONS
from streams.escalation.state import community_of
from streams.http.refusal import refusal_response
from streams.scope import may_take, refusal

log = logging.getLogger(__name__)

# What the page offers. reassign with `owner` places an unlocated incident (a community or grid id); pause,
# extend, return, approve and deny carry the field ACTION_NEEDS names (pause_reason, limit, unit, request).
ACTIONS = (
    "ack",
    "resolve",
    "request_escalation",
    "reassign",
    "pause",
    "resume",
    "extend",
    "return",
    "approve",
    "deny",
)
REASON_MAX, UNIT_MAX = 2000, 200
_ID = re.compile(ID_PATTERN)


def _field_error(field: str, value) -> str | None:
    """What is wrong with the value of a field an action needs, or None."""
    if field == "pause_reason" and value not in PAUSE_REASONS:
        return f"must be one of {', '.join(PAUSE_REASONS)}"
    if field == "limit":
        try:
            parse_span(value)
        except ValueError as exc:
            return str(exc)
    if field == "unit" and not (isinstance(value, str) and 0 < len(value.strip()) <= UNIT_MAX):
        return f"names the unit the case belongs to, in at most {UNIT_MAX} characters"
    if field == "request" and not (isinstance(value, str) and len(value) <= 64 and _ID.fullmatch(value)):
        return "is the id of the pause, extend or return action answered"
    if field == "owner" and not (isinstance(value, str) and value.strip()):
        return "reassign needs the new owner: a community (c03) or grid (c03-g02) id"
    return None


def console_action(body) -> tuple[dict, list[FieldError]]:
    """The action to forward and every wrong field (empty when none): an id of the console's, no actor
    (the worker takes it from the token), and only the field the action needs (owner for reassign)."""
    if not isinstance(body, dict):
        return {}, [FieldError("(body)", "must be a JSON object")]
    errors, action = [], body.get("action")
    if action not in ACTIONS:
        errors.append(FieldError("action", f"must be one of {', '.join(ACTIONS)}"))
    needed = ACTION_NEEDS.get(action) if isinstance(action, str) else None
    for field in ("owner", "pause_reason", "limit", "unit", "request"):
        if field == needed:
            wrong = _field_error(field, body.get(field))
            errors += [FieldError(field, wrong)] if wrong else []
        elif body.get(field) is not None:
            errors.append(FieldError(field, f"only {_taking(field)} takes {field}"))
    reason = body.get("reason") or "from the dispatcher console"
    if not isinstance(reason, str):
        errors.append(FieldError("reason", "must be text"))
    forwarded = {"id": f"console-{uuid.uuid4().hex}", "action": action, "reason": str(reason)[:REASON_MAX]}
    if needed and not errors:
        value = body[needed]
        forwarded[needed] = value.strip() if needed in ("owner", "unit", "limit") else value
    return forwarded, errors


def _taking(field: str) -> str:
    return " or ".join(a for a, f in ACTION_NEEDS.items() if f == field and a in ACTIONS)


def worker_url(settings) -> str:
    """REDWALL_WORKER_URL, or the worker on this host (REDWALL_WEB_HOST:REDWALL_WEB_PORT) as `redwall demo` runs it."""
    return settings.worker_url.rstrip("/") or f"http://{settings.web_host}:{settings.web_port}"


class ActionProxy:
    def __init__(
        self,
        worker_url: str,
        refused: Counter,
        forwarded: Counter,
        roles: Mapping[str, frozenset[str]],
        geometry: Geometry | None = None,
    ):
        self.worker_url, self.refused, self.forwarded, self.roles = worker_url, refused, forwarded, roles
        self.geometry = geometry  # the streets: a dispatcher acts in its own only

    async def post(self, request: web.Request) -> web.Response:
        who, incident = request["dispatcher"], request.match_info["incident"]
        why_not = refusal(who, community_of(incident), self.geometry)  # a malformed id: the worker's 404
        if why_not:
            self.refused.labels(who.role).inc()
            log.warning(
                "action refused: dispatcher=%s role=%s incident=%.128s reason=%s",
                who.subject,
                who.role,
                incident,
                json.dumps(why_not).decode(),
            )
            return refusal_response(403, why_not, [FieldError("incident", why_not)])
        try:
            body = await request.json(loads=json.loads)
        except ValueError:
            return refusal_response(400, "body must be JSON", [FieldError("(body)", "must be JSON")])
        forwarded, errors = console_action(body)
        if errors:
            return refusal_response(422, "invalid action", errors)
        allowed = self.roles.get(forwarded["action"], ())
        if not may_take(who.role, allowed):  # [actions.roles] of the escalation rules, as the worker checks it too
            self.refused.labels(who.role).inc()
            reason = (
                f"{forwarded['action']} is for dispatchers of role {' or '.join(allowed) or 'none'}, not {who.role}"
            )
            return refusal_response(403, reason, [FieldError("action", reason)])
        return await self.forward(request, incident, forwarded)

    async def forward(self, request: web.Request, incident: str, action: dict) -> web.Response:
        return await self.pass_on(request, f"/v1/incidents/{incident}/actions", action)

    async def pass_on(self, request: web.Request, path: str, body: dict) -> web.Response:
        """POST `body` to the worker's `path` with the dispatcher's token; the worker's answer as it is."""
        # The worker checks the dispatcher again with its own token and records it as the actor.
        url = f"{self.worker_url}{path}"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {request['token']}"}
        try:
            async with request.app[SESSION].post(url, data=json.dumps(body), headers=headers) as answer:
                self.forwarded.labels(str(answer.status)).inc()
                return web.Response(status=answer.status, body=await answer.read(), content_type="application/json")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.forwarded.labels("502").inc()
            reason = f"the worker at {self.worker_url} did not answer: {type(exc).__name__} {exc}"
            return refusal_response(502, reason, [FieldError("worker", reason)])


SESSION = web.AppKey("session", aiohttp.ClientSession)
