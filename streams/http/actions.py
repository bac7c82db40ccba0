"""HTTP actions on incidents: POST /v1/incidents/{id}/actions authenticates the dispatcher, checks its
role against the incident's community, validates the action, produces it to redwall.actions.v1 keyed
by the community's street (streams/escalation/keys.py), and answers with the engine's verdict. Which roles
may take each action is the escalation rules' `[actions.roles]` (config/escalation.toml): another role gets
403 naming the action and the roles.

Whether the transition is allowed depends on the incident's state, which lives with the partition's
owner, possibly another worker. So the view waits (REDWALL_ACTION_VERDICT_SECONDS) for the engine's
event for the action on redwall.incidents.v1 (streams/http/verdicts.py) and answers 200 with the transition,
409 with the engine's reason (ack a resolved incident), 404 for an incident the engine does not know, or
202 when the verdict has not come in time (it is then only in the incident's history).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Collection, Mapping

import faust
from faust.web import Request, Response, View

from config.geometry import Geometry
from config.rules import DEFAULT_ROLES
from schemas import json
from schemas.display import ACTION, ROLE
from schemas.fields import FieldError, now_rfc3339
from schemas.openapi import ACTION_NEEDS
from schemas.records import INCIDENT_ID_PATTERN, UNLOCATED, IncidentAction
from sinks.credentials import Credential
from streams.credentials import CredentialCache
from streams.escalation.engine import community_of
from streams.escalation.keys import IncidentKeys
from streams.http.auth import authenticate
from streams.http.ingest import read_json
from streams.http.refusal import Refused, refusal_body
from streams.http.verdicts import Verdicts, tail
from streams.metrics import WorkerMetrics
from streams.produce import Out, send_all
from streams.scope import may_take, refusal

log = logging.getLogger(__name__)

_INCIDENT = re.compile(INCIDENT_ID_PATTERN)


class OutsideRole(Refused):
    """An authenticated dispatcher asked for something its role does not allow."""

    def __init__(self, field: str, reason: str, label: str = "role"):
        super().__init__(403, [FieldError(field, reason)], labels=[label], title="forbidden")


def install(
    app: faust.App,
    settings,
    communities,
    credentials: CredentialCache,
    metrics: WorkerMetrics,
    keys: IncidentKeys,
    *,
    roles: Mapping[str, Collection[str]] = DEFAULT_ROLES,
    kafka: dict | None = None,
    geometry: Geometry | None = None,
) -> None:
    verdicts = Verdicts()

    @app.task
    async def tail_verdicts() -> None:
        await tail(settings, verdicts, kafka)

    @app.page("/v1/incidents/{incident}/actions")
    class IncidentActions(View):
        """POST {action, reason[, id, time, owner, duplicate_of]} with a dispatcher token: the engine's verdict."""

        async def post(self, request: Request, incident: str) -> Response:
            dispatcher = None
            try:
                dispatcher = await authenticate(credentials, "dispatcher", request.headers)
                action = parse_action(incident, await read_json(request), communities, dispatcher, roles, geometry)
            except Refused as refused:
                return self.refuse(refused, incident, dispatcher)
            # A retry of an action the engine has judged gets the same answer (the engine ignores a known id).
            verdict = verdicts.known(incident, action["id"]) or await verdicts.wait(
                incident, action["id"], settings.action_verdict_seconds, lambda: self.send(action)
            )
            status, body = answer(action, verdict, settings.action_verdict_seconds)
            return self.json(body, status=status)

        async def send(self, action: dict) -> None:
            key = keys.of_incident(action["incident"])
            await send_all(app.producer, [Out(settings.topic_actions, key, json.dumps(action))])

        def refuse(self, refused: Refused, incident: str, dispatcher: Credential | None) -> Response:
            for label in refused.reasons():
                metrics.rejected.labels(settings.topic_actions, "http", label).inc()
            if isinstance(refused, OutsideRole):
                log.warning(
                    "action refused: dispatcher=%s role=%s incident=%.128s reason=%s",
                    dispatcher.subject,
                    dispatcher.role,
                    incident,
                    json.dumps(refused.errors[0].reason).decode(),
                )
            return refused.answer("invalid action")


def answer(action: dict, verdict: dict | None, waited: float) -> tuple[int, dict]:
    """The status and body for the engine's `verdict` on `action` (its IncidentEvent), or for none in time."""
    if verdict is None:
        return 202, {
            "accepted": action["id"],
            "incident": action["incident"],
            "actor": action["actor"],
            "outcome": f"queued: no verdict within {waited:g} s; the incident's history on "
            "redwall.incidents.v1 records it, or an action_rejected event saying why not",
        }
    if verdict["kind"] != "action_rejected":
        return 200, {
            "verdict": verdict["kind"],
            "incident": action["incident"],
            "action": action["id"],
            "event": verdict,
        }
    if "state" in verdict:  # the engine knows the incident: the transition is what it refused
        return 409, refusal_body("refused", [FieldError("action", verdict["reason"])])
    return 404, refusal_body("unknown incident", [FieldError("incident", verdict["reason"])])


def parse_action(
    incident: str,
    body,
    communities,
    dispatcher: Credential,
    roles: Mapping[str, Collection[str]] = DEFAULT_ROLES,
    geometry: Geometry | None = None,
) -> dict:
    """The action a request asks for, by `dispatcher`, whose role must be among the action's `roles` and whose
    street (with `geometry`) the incident's; Refused names the field and the reason (for a malformed body, 422
    naming every wrong field)."""
    community = _community(incident, communities)
    why_not = refusal(dispatcher, community, geometry)
    if why_not:
        raise OutsideRole("incident", why_not)
    if not isinstance(body, dict):
        raise Refused(422, [FieldError("(body)", "must be a JSON object")])
    if body.get("actor", dispatcher.subject) != dispatcher.subject:
        raise OutsideRole(
            "actor",
            f"is {body['actor']!r:.80}, but the token is dispatcher {dispatcher.subject}'s: "
            "a dispatcher acts only as itself",
            "actor_mismatch",
        )
    action = {**body, "incident": incident, "actor": dispatcher.subject}  # in the body's order, as refusals name it
    # Defaults that make a bare {action, reason} usable; a client that retries sends its own id.
    action.setdefault("id", f"act-{uuid.uuid4().hex}")
    action.setdefault("time", now_rfc3339())
    errors = []
    try:
        action = IncidentAction.validate(action)
    except FieldError as error:
        errors = error.each()
    errors += _body_errors(body, incident, action)
    if errors:
        raise Refused(422, errors)
    _check_role(action["action"], dispatcher, roles)
    return action


def _check_role(action: str, dispatcher: Credential, roles: Mapping[str, Collection[str]]) -> None:
    allowed = roles[action]
    if not may_take(dispatcher.role, allowed):
        who = ", ".join(f"{r} ({ROLE[r]})" for r in sorted(allowed))
        raise OutsideRole(
            "action",
            f"{action} ({ACTION[action]}) is for dispatchers of role {who} only; "
            f"dispatcher {dispatcher.subject} has role {dispatcher.role} ({ROLE[dispatcher.role]})",
            "action_role",
        )


def _community(incident: str, communities) -> str:
    """The community an incident id names, if it is one of this street's; else 404."""
    if not _INCIDENT.fullmatch(incident):
        reason = f"{incident!r:.80} is not an incident id (inc-<community>-<12 hex>)"
        raise Refused(404, [FieldError("incident", reason)])
    community = community_of(incident)
    if community not in communities and community != UNLOCATED:  # the unlocated queue: street dispatchers only
        raise Refused(404, [FieldError("incident", f"no community {community!r} in this street")])
    return community


def _body_errors(body: dict, incident: str, action: dict) -> list[FieldError]:
    """What the record's schema cannot say: the URL's incident rules, and what each action needs."""
    errors = []
    if body.get("incident", incident) != incident:
        errors.append(FieldError("incident", "differs from the incident in the URL"))
    kind = action.get("action")
    needed = ACTION_NEEDS.get(kind) if isinstance(kind, str) else None  # a list is no key (and no action)
    if needed is not None and action.get(needed) is None:
        errors.append(FieldError(needed, f"is required when action is {kind}"))
    return errors
