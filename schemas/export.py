"""`redwall schemas export DIR`: one JSON Schema file per record and the API's OpenAPI document."""

from __future__ import annotations

from pathlib import Path

from schemas import json
from schemas.hotline import HOTLINE_RECORDS
from schemas.openapi import document
from schemas.records import ALL_RECORDS, PingBatch, ping_batch
from schemas.tasks import TASK_RECORDS


def export(directory: Path, max_pings: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for record in ALL_RECORDS + HOTLINE_RECORDS + TASK_RECORDS:
        # The ping limit is a setting, so the exported contract states the one in force.
        record = ping_batch(max_pings) if record is PingBatch else record
        path = directory / f"{record.name}.schema.json"
        path.write_bytes(json.pretty(record.json_schema()) + b"\n")
        written.append(path)
    path = directory / "openapi.json"  # the same document the worker serves at /openapi.json
    path.write_bytes(json.pretty(document(max_pings)) + b"\n")
    return [*written, path]
