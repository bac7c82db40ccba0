"""The OpenAPI 3.1 document of the ingestion and action API, built from the record declarations.

Request bodies are the records' own JSON Schemas (OpenAPI 3.1 speaks JSON Schema 2020-12), so the
document, the validator and `redwall schemas export` cannot drift apart.
"""

from __future__ import annotations

from schemas.hotline import EVENT_NEEDS, ORDER_ID_MAX, HotlineEvent, HotlineOrder
from schemas.records import (
    ID_PATTERN,
    INCIDENT_EVENTS,
    INCIDENT_ID_PATTERN,
    FieldReport,
    IncidentAction,
    IncidentEvent,
    Record,
    ping_batch,
)
from schemas.tasks import TASK_ID_PATTERN, TaskAction, TaskState

MAX_REPORTS_PER_REQUEST = 100
MAX_ORDERS_PER_REQUEST = 100
# Filled in by the action view (streams/http/actions.py): the URL's incident, the token's dispatcher as actor,
# a fresh id and the time when absent; so a bare {action, reason} is usable.
ACTION_DEFAULTED = ("id", "time", "incident", "actor")
# What an action cannot be done without, beyond the fields every action needs: the view refuses it (422)
# rather than accept it for the engine to reject.
ACTION_NEEDS = {
    "reassign": "owner",
    "close_duplicate": "duplicate_of",
    "pause": "pause_reason",
    "extend": "limit",
    "return": "unit",
    "approve": "request",
    "deny": "request",
}


def component(record: Record) -> dict:
    """A record's JSON Schema as an OpenAPI component: the exported schema without $schema and $id."""
    return {"title": record.name, **record.schema()}


def action_request() -> dict:
    """IncidentAction as a request body: the fields the view fills in are optional, nothing else changes."""
    schema = component(IncidentAction)
    schema["title"] = "IncidentActionRequest"
    schema["required"] = [k for k in schema["required"] if k not in ACTION_DEFAULTED]
    schema["allOf"] = [
        {
            "if": {"properties": {"action": {"const": action}}, "required": ["action"]},
            "then": {"required": [field], "properties": {field: {"not": {"type": "null"}}}},
        }
        for action, field in ACTION_NEEDS.items()
    ]
    return schema


def hotline_order_request() -> dict:
    """HotlineOrder as a request body: `type` may be left out (the route sets it)."""
    schema = component(HotlineOrder)
    schema["title"] = "HotlineOrderRequest"
    schema["required"] = [k for k in schema["required"] if k != "type"]
    return schema


def hotline_event_request() -> dict:
    """HotlineEvent as a request body: `type` and `order` (the URL's) may be left out; each kind requires
    what it needs (EVENT_NEEDS)."""
    schema = component(HotlineEvent)
    schema["title"] = "HotlineEventRequest"
    schema["required"] = [k for k in schema["required"] if k not in ("type", "order")]
    schema["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"required": list(needed), "properties": {f: {"not": {"type": "null"}} for f in needed}},
        }
        for kind, needed in EVENT_NEEDS.items()
        if needed
    ]
    return schema


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = {
    "title": "Refusal",
    "type": "object",
    "required": ["error", "errors"],
    "properties": {
        "error": {"type": "string", "description": "what kind of refusal"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {
                    "field": {"type": "string", "description": "dotted path (`pings.3.lat`), or `(body)`"},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}

_REFUSALS = {
    "400": "the body is not JSON",
    "401": "no valid `Authorization: Bearer <token>`",
    "403": "the token may not do this (another device, a revoked device, a role without the right)",
    "413": "the body is larger than the configured maximum",
    "415": "the content type is not application/json (or there is none)",
    "422": "the body is JSON but not a valid record: one error for each wrong field (up to 100), naming the field "
    "and the reason",
    "429": "too many requests from this device: wait `Retry-After` seconds",
    "503": "the worker is still loading credentials: retry shortly",
}


def _responses(
    accepted: dict, described: str, extra: dict | None = None, without: tuple[str, ...] = (), done: dict | None = None
) -> dict:
    out = {"202": _json(accepted, described), **(done or {})}
    refusals = {**_REFUSALS, **(extra or {})}
    for status, why in sorted(refusals.items()):
        if status not in without:
            out[status] = _json(_ref("Refusal"), why)
    if "429" in out:
        out["429"]["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    out["401"]["headers"] = {"WWW-Authenticate": {"description": "the scheme to use", "schema": {"type": "string"}}}
    return out


# A device proves itself by its bearer token, or by all three signature headers together.
DEVICE_SECURITY = [{"deviceToken": []}, {"deviceId": [], "signatureTime": [], "signature": []}]

# How a phone signs, and a worked example (also in streams/http/README.md; tests/streams/http/test_auth.py checks both
# against the worker's own check). The key is the digest's 32 bytes: its 64-character hex is not the key.
SIGNING = (
    "X-Redwall-Signature: sha256=<lowercase hex of HMAC-SHA256(key, timestamp + '.' + body)>, where key is "
    "the 32 raw bytes of SHA-256 over the token's UTF-8 bytes (the digest itself, not its hex form), timestamp "
    "is X-Redwall-Timestamp as sent (ASCII digits) and body is the request body's bytes exactly as sent"
)
SIGNING_EXAMPLE = {
    "device": "dev-0001",
    "token": "EXAMPLE-not-a-real-token-d6Jq3LkX9vT2mPz8aR",
    "key_hex": "29e797d3d2b048663dd289fea7b16b63be148ffda7c506fa8bc1145c4d52fae4",  # SHA-256 of the token
    "timestamp": "1796520600",  # 2026-12-06 09:30 in Beijing
    "body": '{"device":"dev-0001","pings":[{"lat":39.9036,"lng":116.3912,"accuracy":5.0,'
    '"time":"2026-12-06T09:30:00+08:00"}]}',
    "signature": "sha256=2fad3f30232a7a9cba46fcc3e75ca612e934ae9e3ef02e0cd0c98f3e0b4c9bc8",
}


def _signing_description() -> str:
    e = SIGNING_EXAMPLE
    return (
        f"signed requests: {SIGNING}. Each signature is accepted once. Example: token {e['token']} (key, in hex "
        f"for reading only: {e['key_hex']}), X-Redwall-Timestamp: {e['timestamp']}, body {e['body']} gives "
        f"X-Redwall-Signature: {e['signature']}"
    )


def _post(summary: str, body: dict, responses: dict, security: list[dict], **extra) -> dict:
    return {
        "post": {
            "summary": summary,
            "security": security,
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": responses,
            **extra,
        }
    }


def _accepted_reports() -> dict:
    return {
        "type": "object",
        "required": ["accepted"],
        "additionalProperties": False,
        "properties": {"accepted": {"type": "array", "items": {"type": "string"}}},
    }


def _accepted_pings() -> dict:
    return {
        "type": "object",
        "required": ["device", "accepted"],
        "additionalProperties": False,
        "properties": {"device": {"type": "string"}, "accepted": {"type": "integer", "minimum": 1}},
    }


def _verdict() -> dict:
    return {
        "type": "object",
        "required": ["verdict", "incident", "action", "event"],
        "additionalProperties": False,
        "properties": {
            "verdict": {
                "type": "string",
                "enum": [k for k in INCIDENT_EVENTS if k != "action_rejected"],
                "description": "the transition the engine made: the event's kind",
            },
            "incident": {"type": "string"},
            "action": {"type": "string", "description": "the action's id"},
            "event": _ref("IncidentEvent"),
        },
    }


def _accepted_action() -> dict:
    return {
        "type": "object",
        "required": ["accepted", "incident", "actor", "outcome"],
        "additionalProperties": False,
        "properties": {
            "accepted": {"type": "string", "description": "the action's id"},
            "incident": {"type": "string"},
            "actor": {"type": "string", "description": "the dispatcher"},
            "outcome": {"type": "string"},
        },
    }


def _accepted_event() -> dict:
    return {
        "type": "object",
        "required": ["accepted"],
        "additionalProperties": False,
        "properties": {"accepted": {"type": "string", "description": "the event's id"}},
    }


def _hotline_paths() -> dict:
    """The 12345 adapter's two routes (docs/hotline-integration.md): no rate limit, and no 403 (a token of
    another kind is 401)."""
    orders_body = {
        "oneOf": [
            _ref("HotlineOrderRequest"),
            {
                "type": "array",
                "items": _ref("HotlineOrderRequest"),
                "minItems": 1,
                "maxItems": MAX_ORDERS_PER_REQUEST,
            },
        ]
    }
    order = {
        "name": "order",
        "in": "path",
        "required": True,
        "description": "the order's id (工单编号), as posted",
        "schema": {"type": "string", "maxLength": ORDER_ID_MAX, "pattern": f"^{ID_PATTERN}$"},
    }
    hotline_refusals = {"422": _REFUSALS["422"] + "; an event's `order` differing from the URL's is refused too"}
    return {
        "/v1/hotline/orders": _post(
            f"one 12345 work order, or an array of up to {MAX_ORDERS_PER_REQUEST}; phone numbers in clear in "
            "content and address are masked before they are kept",
            orders_body,
            _responses(_accepted_reports(), "the broker has every order: their ids", without=("403", "429")),
            [{"integrationToken": []}],
        ),
        "/v1/hotline/orders/{order}/events": _post(
            "one event of a 12345 order (contacted, extended, returned, closed, callback)",
            _ref("HotlineEventRequest"),
            _responses(_accepted_event(), "the broker has the event: its id", hotline_refusals, without=("403", "429")),
            [{"integrationToken": []}],
            parameters=[order],
        ),
    }


# What the task views fill in (streams/http/tasks.py), and what each request may carry.
TASK_FILLED = ("action", "actor", "time", "creator", "street", "community", "grid")
TASK_STEP_FIELDS = ("id", "action", "time", "note", "report")


def task_request() -> dict:
    """A create: TaskAction's create fields; the worker and the kind required, a courtyard or a point."""
    schema = component(TaskAction)
    schema["title"] = "TaskRequest"
    props = schema["properties"]
    for field in (*TASK_FILLED, "task", "reported_at"):
        props.pop(field, None)
    props["id"] = {**props["id"], "description": "the task's id (task-...), for a resend; made by the worker if absent"}
    schema["required"] = ["device", "kind"]
    schema["anyOf"] = [{"required": ["courtyard"]}, {"required": ["location"]}]
    return schema


def task_step_request() -> dict:
    schema = component(TaskAction)
    schema["title"] = "TaskStepRequest"
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k in TASK_STEP_FIELDS}
    schema["properties"]["action"] = {
        "enum": ["accept", "done", "cancel"],
        "description": "accept, done: the task's phone; cancel: a dispatcher",
    }
    schema["required"] = ["action"]
    return schema


def _task_paths() -> dict:
    task = {
        "name": "task",
        "in": "path",
        "required": True,
        "description": "the task's id",
        "schema": {"type": "string", "maxLength": 80, "pattern": f"^{TASK_ID_PATTERN}$"},
    }
    accepted = {
        "type": "object",
        "required": ["task", "accepted"],
        "properties": {
            "task": {"type": "string"},
            "device": {"type": "string"},
            "accepted": {"type": "string", "description": "the action's id"},
        },
    }
    listing = {
        "type": "object",
        "required": ["tasks"],
        "properties": {"tasks": {"type": "array", "items": _ref("TaskState")}},
    }
    create = _post(
        "a task for one worker (a dispatcher, or a grid leader's phone for its grid): where (a courtyard or a point "
        "with a radius), what, by when; its arrival is confirmed by the worker's own GPS",
        _ref("TaskRequest"),
        _responses(accepted, "on redwall.task-actions.v1: the task's id", without=("429",)),
        [{"dispatcherToken": []}, *DEVICE_SECURITY],
    )
    create["get"] = {
        "summary": "a phone's own tasks (open ones, and those closed in the last day); a dispatcher's open tasks "
        "in its scope (`?device=` for one worker)",
        "security": [*DEVICE_SECURITY, {"dispatcherToken": []}],
        "responses": {
            "200": _json(listing, "the tasks, as the sink has written them"),
            "401": _json(_ref("Refusal"), _REFUSALS["401"]),
        },
    }
    return {
        "/v1/tasks": create,
        "/v1/tasks/{task}/actions": _post(
            "accept or done by the task's phone, cancel by a dispatcher: judged by the tasks agent; one that does not "
            "fit the task's state is a `refused` event in its history",
            _ref("TaskStepRequest"),
            _responses(
                accepted, "on redwall.task-actions.v1", {"404": "no such task (field `task`)"}, without=("429",)
            ),
            [{"dispatcherToken": []}, *DEVICE_SECURITY],
            parameters=[task],
        ),
    }


def document(max_pings: int) -> dict:
    """The whole document; `max_pings` is the setting in force, so the contract states it."""
    pings = ping_batch(max_pings)
    reports_body = {
        "oneOf": [
            _ref("FieldReport"),
            {"type": "array", "items": _ref("FieldReport"), "minItems": 1, "maxItems": MAX_REPORTS_PER_REQUEST},
        ]
    }
    incident = {
        "name": "incident",
        "in": "path",
        "required": True,
        "description": "inc-<community>-<12 hex>",
        "schema": {"type": "string", "maxLength": 128, "pattern": f"^{INCIDENT_ID_PATTERN}$"},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Redwall ingestion and action API",
            "version": "1",
            "description": "Phones post field reports and GPS pings; dispatchers act on incidents; the 12345 "
            "adapter posts work orders and their events. A 202 "
            "means the broker has the record; an action is answered with the engine's verdict "
            "when it comes in time. Times are RFC 3339 with an offset.",
        },
        "paths": {
            "/v1/reports": _post(
                "one FieldReport, or an array of up to 100",
                reports_body,
                _responses(_accepted_reports(), "the broker has every report: their ids"),
                DEVICE_SECURITY,
            ),
            "/v1/pings": _post(
                f"one PingBatch of up to {max_pings} pings",
                _ref("PingBatch"),
                _responses(_accepted_pings(), "the broker has the batch"),
                DEVICE_SECURITY,
            ),
            "/v1/incidents/{incident}/actions": _post(
                "an action on an incident, answered with the engine's verdict: whether the transition is allowed "
                "is decided by the engine, which holds the incident's state",
                _ref("IncidentActionRequest"),
                _responses(
                    _accepted_action(),
                    "on redwall.actions.v1, but the engine's verdict did not come within "
                    "REDWALL_ACTION_VERDICT_SECONDS: the incident's history will have it",
                    {
                        "404": "no such incident id form, no such community in this street, or an incident the "
                        "engine does not know (field `incident`)",
                        "409": "the engine refused the transition in the incident's state (field `action`, with "
                        "the engine's reason, e.g. `cannot resolve an incident that is resolved`)",
                    },
                    without=("429",),  # dispatchers are not rate-limited
                    done={"200": _json(_verdict(), "the engine made the transition")},
                ),
                [{"dispatcherToken": []}],
                parameters=[incident],
            ),
            **_hotline_paths(),
            **_task_paths(),
        },
        "components": {
            "schemas": {
                "FieldReport": component(FieldReport),
                "PingBatch": component(pings),
                "IncidentActionRequest": action_request(),
                "IncidentEvent": component(IncidentEvent),
                "HotlineOrderRequest": hotline_order_request(),
                "HotlineEventRequest": hotline_event_request(),
                "TaskRequest": task_request(),
                "TaskStepRequest": task_step_request(),
                "TaskState": {"title": "TaskState", **TaskState.schema()},
                "Refusal": ERROR,
            },
            "securitySchemes": {
                "deviceToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a device's own token (`redwall devices add`): it reports as itself",
                },
                "dispatcherToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a dispatcher's token; its role bounds what it may act on",
                },
                "integrationToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a 12345 adapter's token (`redwall integrations add`): it posts orders and "
                    "their events, nothing else",
                },
                "deviceId": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Redwall-Device",
                    "description": "signed requests: the device (it holds a live credential)",
                },
                "signatureTime": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Redwall-Timestamp",
                    "description": "signed requests: Unix seconds, within 300 s of the server's clock",
                },
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Redwall-Signature",
                    "description": _signing_description(),
                },
            },
        },
    }
