"""The OpenAPI document is valid OpenAPI 3.1 and its request bodies are exactly the records' schemas."""

import jsonschema
from openapi_spec_validator import validate

from schemas import json
from schemas.export import export
from schemas.hotline import EVENT_NEEDS, HotlineEvent, HotlineOrder
from schemas.openapi import ACTION_DEFAULTED, ACTION_NEEDS, MAX_ORDERS_PER_REQUEST, MAX_REPORTS_PER_REQUEST, document
from schemas.records import FieldReport, IncidentAction, ping_batch
from streams.http import ingest


def without_meta(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k not in ("$schema", "$id")}


def test_document_validates_as_openapi_3_1():
    doc = document(max_pings=250)
    validate(doc)
    assert doc["openapi"] == "3.1.0"


def test_request_bodies_are_the_records_schemas():
    doc = document(max_pings=250)
    schemas = doc["components"]["schemas"]
    assert schemas["FieldReport"] == without_meta(FieldReport.json_schema())
    assert schemas["PingBatch"] == without_meta(ping_batch(250).json_schema())
    assert schemas["PingBatch"]["properties"]["pings"]["maxItems"] == 250
    action = without_meta(IncidentAction.json_schema())
    request = schemas["IncidentActionRequest"]
    # The view fills in id, time and the URL's incident; every other part of the record is unchanged.
    assert set(action["required"]) - set(request["required"]) == set(ACTION_DEFAULTED)
    conditions = request["allOf"]  # what some actions need besides (ACTION_NEEDS)
    assert {**request, "required": action["required"], "title": action["title"], "allOf": None} == {
        **action,
        "allOf": None,
    }
    validator = jsonschema.Draft202012Validator(request)
    base = {"action": "ack", "reason": "x"}
    assert validator.is_valid(base) and len(conditions) == len(ACTION_NEEDS)
    for kind, field in ACTION_NEEDS.items():
        assert not validator.is_valid({**base, "action": kind}) and not validator.is_valid(
            {**base, "action": kind, field: None}
        )
        value = {"owner": "c01", "pause_reason": "resident", "limit": "10wd", "unit": "区城管执法局"}.get(
            field, "inc-c01-0123456789ab"
        )
        assert validator.is_valid({**base, "action": kind, field: value})
    reports = doc["paths"]["/v1/reports"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert reports["oneOf"][1]["maxItems"] == MAX_REPORTS_PER_REQUEST == ingest.MAX_REPORTS_PER_REQUEST


def test_hotline_bodies_are_the_records_less_what_the_routes_fill_in():
    doc = document(max_pings=250)
    schemas = doc["components"]["schemas"]
    order, event = schemas["HotlineOrderRequest"], schemas["HotlineEventRequest"]
    assert {**order, "title": "HotlineOrder", "required": [*order["required"], "type"]} == {
        **without_meta(HotlineOrder.json_schema()),
        "required": [*order["required"], "type"],
    }
    # What the route fills in is all the request may leave out; the rest stays required, in the same order.
    full = without_meta(HotlineOrder.json_schema())["required"]
    assert order["required"] == [name for name in full if name != "type"]
    assert set(without_meta(HotlineEvent.json_schema())["required"]) - set(event["required"]) == {"type", "order"}
    validator = jsonschema.Draft202012Validator(event)
    base = {"id": "e1", "kind": "contacted", "time": "2026-12-06T09:30:00+08:00"}
    assert validator.is_valid(base)
    for kind, needed in EVENT_NEEDS.items():
        values = {"new_limit": base["time"], "returned_to": "x", "result": "x", "resolved": "yes"}
        full = {**base, "kind": kind, **values, "satisfaction": "satisfied"}
        assert validator.is_valid({k: v for k, v in full.items() if k in base or k in needed})
        for field in needed:
            assert not validator.is_valid({k: v for k, v in full.items() if k != field})
    body = doc["paths"]["/v1/hotline/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][1]["maxItems"] == MAX_ORDERS_PER_REQUEST == 100


def test_every_operation_documents_its_refusals_and_security():
    doc = document(max_pings=1000)
    for path, item in doc["paths"].items():
        op = item["post"]
        assert {"202", "400", "401", "413", "415", "422", "503"} <= set(op["responses"]), path
        devices = path in ("/v1/reports", "/v1/pings")
        assert ("429" in op["responses"]) == devices  # only devices are rate-limited
        assert ("403" in op["responses"]) == ("hotline" not in path)  # an adapter acts for nobody else
        assert ({"200", "404", "409"} <= set(op["responses"])) == path.startswith("/v1/incidents/")  # verdicts
        assert all("Retry-After" in r["headers"] for s, r in op["responses"].items() if s == "429")
        assert all(alt.keys() <= doc["components"]["securitySchemes"].keys() for alt in op["security"])


def test_export_writes_the_document(tmp_path):
    paths = export(tmp_path, max_pings=500)
    assert tmp_path / "openapi.json" in paths
    assert json.loads((tmp_path / "openapi.json").read_bytes()) == document(max_pings=500)
