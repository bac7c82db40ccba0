"""GET /openapi.json on the worker: the ingestion and action API's OpenAPI document (schemas/openapi.py)."""

from __future__ import annotations

import faust
from faust.web import Request, Response, View

from schemas import json
from schemas.openapi import document


def install(app: faust.App, settings) -> None:
    body = json.dumps(document(settings.max_pings_per_batch))  # built once: it depends only on settings

    @app.page("/openapi.json")
    class OpenAPI(View):
        """The document, as `redwall schemas export` writes it."""

        async def get(self, request: Request) -> Response:
            return self.bytes(body, content_type="application/json")
