"""The one refusal answer: every kind of Refused, worker's and console's, answers the OpenAPI document's
Error schema with its status, its headers and the keys it adds."""

from __future__ import annotations

import jsonschema
import pytest

from consumers.console.actions import console_action
from schemas import json
from schemas.fields import FieldError
from schemas.openapi import ERROR
from streams.http.actions import OutsideRole, answer
from streams.http.auth import Unauthorized
from streams.http.ingest import BodyRefused
from streams.http.limits import RateLimited
from streams.http.refusal import Refused, refusal_body, refusal_response

REFUSALS = [
    (Refused(422, [FieldError("pings.0.lat", "must be <= 90")]), 422, "invalid input", {}),
    (BodyRefused(415, "content type must be application/json", "content_type"), 415, "invalid input", {}),
    (
        Unauthorized(401, "Authorization", "missing", "auth_missing"),
        401,
        "unauthenticated",
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
    ),
    (Unauthorized(503, "Authorization", "still loading", "auth_unavailable"), 503, "unavailable", {}),
    (OutsideRole("incident", "role read may only look"), 403, "forbidden", {}),
    (RateLimited("dev-1", 0.5, 1, 1.2), 429, "too many requests", {"Retry-After": "2"}),
]


@pytest.mark.parametrize(("refused", "status", "title", "headers"), REFUSALS)
def test_every_refusal_answers_the_documented_body(refused, status, title, headers):
    response = refused.answer("invalid input")
    body = json.loads(response.body)
    jsonschema.validate(body, ERROR)
    assert (response.status, body["error"], body["errors"]) == (status, title, [e.as_dict() for e in refused.errors])
    assert response.content_type == "application/json" and response.charset == "utf-8"
    assert {k: response.headers[k] for k in headers} == headers


def test_a_refusal_adds_its_own_keys():
    body = json.loads(RateLimited("dev-1", 0.5, 1, 1.2).answer("invalid input").body)
    assert body["device"] == "dev-1" and body["limit"] == {"requests_per_second": 0.5, "burst": 1}
    assert body["retry_after_seconds"] == 1.2


def test_metric_reasons_are_the_labels_else_the_fields_each_once():
    errors = [FieldError(f"pings.{i}.lat", "must be <= 90") for i in range(3)]
    assert Refused(422, errors).reasons() == ["pings.*.lat"]
    assert Refused(422, errors, labels=["rate_limited"]).reasons() == ["rate_limited"]


def test_the_engine_verdicts_and_the_console_refusals_have_the_same_body():
    action = {"id": "act-1", "incident": "inc-c01-000000000001", "actor": "d1"}
    for verdict in (
        {"kind": "action_rejected", "reason": "already resolved", "state": {}},
        {"kind": "action_rejected", "reason": "no such incident"},
    ):
        jsonschema.validate(answer(action, verdict, 1.0)[1], ERROR)
    _, errors = console_action({"action": "dance", "reason": 7})
    body = json.loads(refusal_response(422, "invalid action", errors).body)
    jsonschema.validate(body, ERROR)
    assert (
        body
        == refusal_body("invalid action", errors)
        == {
            "error": "invalid action",
            "errors": [
                {
                    "field": "action",
                    "reason": "must be one of ack, resolve, request_escalation, reassign, pause, resume, extend, return, approve, deny",
                },
                {"field": "reason", "reason": "must be text"},
            ],
        }
    )
