"""The OpenAPI document is valid OpenAPI 3.1 and its request bodies are exactly the records' schemas."""

import jsonschema
from openapi_spec_validator import validate

from schemas import json
from schemas.export import export
from schemas.openapi import ACTION_DEFAULTED, ACTION_NEEDS, MAX_REPORTS_PER_REQUEST, document
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
        value = "c01" if field == "owner" else "inc-c01-0123456789ab"
        assert validator.is_valid({**base, "action": kind, field: value})
    reports = doc["paths"]["/v1/reports"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert reports["oneOf"][1]["maxItems"] == MAX_REPORTS_PER_REQUEST == ingest.MAX_REPORTS_PER_REQUEST


def test_every_operation_documents_its_refusals_and_security():
    doc = document(max_pings=1000)
    for path, item in doc["paths"].items():
        op = item["post"]
        assert {"202", "400", "401", "403", "413", "415", "422", "503"} <= set(op["responses"]), path
        assert ("429" in op["responses"]) == ("actions" not in path)  # only devices are rate-limited
        assert ({"200", "404", "409"} <= set(op["responses"])) == ("actions" in path)  # the engine's verdicts
        assert all("Retry-After" in r["headers"] for s, r in op["responses"].items() if s == "429")
        assert all(alt.keys() <= doc["components"]["securitySchemes"].keys() for alt in op["security"])


def test_export_writes_the_document(tmp_path):
    paths = export(tmp_path, max_pings=500)
    assert tmp_path / "openapi.json" in paths
    assert json.loads((tmp_path / "openapi.json").read_bytes()) == document(max_pings=500)
