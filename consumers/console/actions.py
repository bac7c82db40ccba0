"""The console's action proxy: a dispatcher's action from the page, checked against its role, passed to
a worker's POST /v1/incidents/{id}/actions with the dispatcher's own token, and the worker's answer (the
engine's verdict: 200 done, 409 refused, 404 unknown, 422, or 202 still pending) passed back as it is.
Any worker will do (each waits for the verdict of whichever owns the incident): REDWALL_WORKER_URL names
one, or a name that resolves to all of them (docker-compose.yml: the `worker` service)."""

from __future__ import annotations

import logging
import uuid

import aiohttp
from aiohttp import web
from prometheus_client import Counter

from schemas import json
from schemas.fields import FieldError
from streams.credentials import refusal
from streams.escalation.state import community_of
from streams.http.refusal import refusal_response

log = logging.getLogger(__name__)

# What the page offers. reassign with `owner` places an unlocated incident (a community or grid id).
ACTIONS = ("ack", "resolve", "request_escalation", "reassign")
REASON_MAX = 2000


def console_action(body) -> tuple[dict, list[FieldError]]:
    """The action to forward and every wrong field (empty when none): an id of the console's, no actor
    (the worker takes it from the token), owner only for reassign."""
    if not isinstance(body, dict):
        return {}, [FieldError("(body)", "must be a JSON object")]
    errors, action, owner = [], body.get("action"), body.get("owner")
    if action not in ACTIONS:
        errors.append(FieldError("action", f"must be one of {', '.join(ACTIONS)}"))
    if action == "reassign" and not (isinstance(owner, str) and owner.strip()):
        errors.append(FieldError("owner", "reassign needs the new owner: a community (c03) or grid (c03-g02) id"))
    elif action != "reassign" and owner is not None:
        errors.append(FieldError("owner", "only reassign takes an owner"))
    reason = body.get("reason") or "from the dispatcher console"
    if not isinstance(reason, str):
        errors.append(FieldError("reason", "must be text"))
    forwarded = {"id": f"console-{uuid.uuid4().hex}", "action": action, "reason": str(reason)[:REASON_MAX]}
    if action == "reassign" and not errors:
        forwarded["owner"] = owner.strip()
    return forwarded, errors


def worker_url(settings) -> str:
    """REDWALL_WORKER_URL, or the worker on this host (REDWALL_WEB_HOST:REDWALL_WEB_PORT) as `redwall demo` runs it."""
    return settings.worker_url.rstrip("/") or f"http://{settings.web_host}:{settings.web_port}"


class ActionProxy:
    def __init__(self, worker_url: str, refused: Counter, forwarded: Counter):
        self.worker_url, self.refused, self.forwarded = worker_url, refused, forwarded

    async def post(self, request: web.Request) -> web.Response:
        who, incident = request["dispatcher"], request.match_info["incident"]
        why_not = refusal(who, community_of(incident))  # a malformed id: the worker's 404
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
        return await self.forward(request, incident, forwarded)

    async def forward(self, request: web.Request, incident: str, action: dict) -> web.Response:
        # The worker checks the dispatcher again with its own token and records it as the actor.
        url = f"{self.worker_url}/v1/incidents/{incident}/actions"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {request['token']}"}
        try:
            async with request.app[SESSION].post(url, data=json.dumps(action), headers=headers) as answer:
                self.forwarded.labels(str(answer.status)).inc()
                return web.Response(status=answer.status, body=await answer.read(), content_type="application/json")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.forwarded.labels("502").inc()
            reason = f"the worker at {self.worker_url} did not answer: {type(exc).__name__} {exc}"
            return refusal_response(502, reason, [FieldError("worker", reason)])


SESSION = web.AppKey("session", aiohttp.ClientSession)
