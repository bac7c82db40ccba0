"""HTTP actions on incidents: POST /v1/incidents/{id}/actions authenticates the dispatcher, checks its
role against the incident's community, validates the action, produces it to redwall.actions.v1 keyed
by that community, and answers 202.

Whether the transition is allowed depends on the incident's state, which lives with the partition's
owner, possibly another worker; so a well-formed action on a wrong state (ack a resolved incident)
is accepted here and refused by the engine as an `action_rejected` event on redwall.incidents.v1,
with the reason, in the incident's audit trail.
"""

from __future__ import annotations

import logging
import re
import uuid

import faust
from faust.web import Request, Response, View

from schemas import json
from schemas.fields import FieldError, now_rfc3339
from schemas.records import INCIDENT_ID_PATTERN, UNLOCATED, IncidentAction
from sinks.credentials import Credential
from streams.credentials import CredentialCache, refusal
from streams.geofence import reason_label
from streams.http_auth import authenticate
from streams.incidents import community_of
from streams.ingest import Refused, read_json, validate_many
from streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)

_INCIDENT = re.compile(INCIDENT_ID_PATTERN)


class OutsideRole(Refused):
    """An authenticated dispatcher asked for something its role does not allow."""

    def __init__(self, field: str, reason: str, label: str = "role"):
        super().__init__(403, [FieldError(field, reason)])
        self.labels, self.title = [label], "forbidden"


def install(app: faust.App, settings, communities, credentials: CredentialCache, metrics: WorkerMetrics) -> None:
    @app.page("/v1/incidents/{incident}/actions")
    class IncidentActions(View):
        """POST {action, reason[, id, time, owner, duplicate_of]} with a dispatcher token: 202 once the broker has it."""

        async def post(self, request: Request, incident: str) -> Response:
            dispatcher = None
            try:
                dispatcher = await authenticate(credentials, "dispatcher", request.headers)
                action = parse_action(incident, await read_json(request), communities, dispatcher)
            except Refused as refused:
                return self.refuse(refused, incident, dispatcher)
            key = community_of(incident).encode()
            await (await app.producer.send(settings.topic_actions, key, json.dumps(action), None, None, None))
            return self.json({"accepted": action["id"], "incident": incident, "actor": action["actor"], "outcome": (
                "queued: the incident's history on redwall.incidents.v1 records it, or an action_rejected "
                "event saying why not")}, status=202)

        def refuse(self, refused: Refused, incident: str, dispatcher: Credential | None) -> Response:
            labels = getattr(refused, "labels", None) or [reason_label(e) for e in refused.errors]
            for label in labels:
                metrics.rejected.labels(settings.topic_actions, "http", label).inc()
            if isinstance(refused, OutsideRole):
                log.warning("action refused: dispatcher=%s role=%s incident=%.128s reason=%s", dispatcher.subject,
                            dispatcher.role, incident, json.dumps(refused.errors[0].reason).decode())
            body = {"error": getattr(refused, "title", "invalid action"), "errors": [e.as_dict() for e in refused.errors]}
            return self.json(body, status=refused.status, headers=getattr(refused, "headers", None))


def parse_action(incident: str, body, communities, dispatcher: Credential) -> dict:
    """The action a request asks for, by `dispatcher`; Refused names the field and the reason."""
    if not _INCIDENT.fullmatch(incident):
        reason = f"{incident!r:.80} is not an incident id (inc-<community>-<12 hex>)"
        raise Refused(404, [FieldError("incident", reason)])
    community = community_of(incident)
    if community not in communities and community != UNLOCATED:  # the unlocated queue: street dispatchers only
        raise Refused(404, [FieldError("incident", f"no community {community!r} in this street")])
    why_not = refusal(dispatcher, community)
    if why_not:
        raise OutsideRole("incident", why_not)
    if not isinstance(body, dict):
        raise Refused(422, [FieldError("(body)", "must be a JSON object")])
    if body.get("incident", incident) != incident:
        raise Refused(422, [FieldError("incident", "differs from the incident in the URL")])
    if body.get("actor", dispatcher.subject) != dispatcher.subject:
        raise OutsideRole("actor", f"is {body['actor']!r:.80}, but the token is dispatcher {dispatcher.subject}'s: "
                                   "a dispatcher acts only as itself", "actor_mismatch")
    # Defaults that make a bare {action, reason} usable; a client that retries sends its own id.
    action = {"id": f"act-{uuid.uuid4().hex}", "time": now_rfc3339(), **body, "incident": incident,
              "actor": dispatcher.subject}
    return validate_many(IncidentAction, action, 1)[0]
