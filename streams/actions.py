"""HTTP actions on incidents: POST /v1/incidents/{id}/actions validates the action, produces it to
redwall.actions.v1 keyed by the incident's community, and answers 202.

Whether the transition is allowed depends on the incident's state, which lives with the partition's
owner, possibly another worker; so a well-formed action on a wrong state (ack a resolved incident)
is accepted here and refused by the engine as an `action_rejected` event on redwall.incidents.v1,
with the reason, in the incident's audit trail.
"""

from __future__ import annotations

import re
import uuid

import faust
from faust.web import Request, Response, View

from schemas import json
from schemas.fields import FieldError, now_rfc3339
from schemas.records import INCIDENT_ID_PATTERN, IncidentAction
from streams.incidents import community_of
from streams.ingest import Refused, read_json, validate_many

_INCIDENT = re.compile(INCIDENT_ID_PATTERN)


def install(app: faust.App, settings, communities) -> None:
    @app.page("/v1/incidents/{incident}/actions")
    class IncidentActions(View):
        """POST {action, actor, reason[, id, time, owner, duplicate_of]}: 202 once the broker has it."""

        async def post(self, request: Request, incident: str) -> Response:
            try:
                action = parse_action(incident, await read_json(request), communities)
            except Refused as refused:
                body = {"error": "invalid action", "errors": [e.as_dict() for e in refused.errors]}
                return self.json(body, status=refused.status)
            key = community_of(incident).encode()
            await (await app.producer.send(settings.topic_actions, key, json.dumps(action), None, None, None))
            return self.json({"accepted": action["id"], "incident": incident, "outcome": (
                "queued: the incident's history on redwall.incidents.v1 records it, or an action_rejected "
                "event saying why not")}, status=202)


def parse_action(incident: str, body, communities) -> dict:
    """The action a request asks for; Refused names the field and the reason."""
    if not _INCIDENT.fullmatch(incident):
        reason = f"{incident!r:.80} is not an incident id (inc-<community>-<12 hex>)"
        raise Refused(404, [FieldError("incident", reason)])
    if community_of(incident) not in communities:
        raise Refused(404, [FieldError("incident", f"no community {community_of(incident)!r} in this street")])
    if not isinstance(body, dict):
        raise Refused(422, [FieldError("(body)", "must be a JSON object")])
    if body.get("incident", incident) != incident:
        raise Refused(422, [FieldError("incident", "differs from the incident in the URL")])
    # Defaults that make a bare {action, actor, reason} usable; a client that retries sends its own id.
    action = {"id": f"act-{uuid.uuid4().hex}", "time": now_rfc3339(), **body, "incident": incident}
    return validate_many(IncidentAction, action, 1)[0]
