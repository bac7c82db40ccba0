"""Every HTTP refusal Redwall answers, the worker's and the console's alike: `Refused`, which a check
raises, and the one body every refusal is answered with, `{"error": ..., "errors": [{"field", "reason"}]}`
(the Error schema of the OpenAPI document, schemas/openapi.py), plus the keys a refusal adds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiohttp import web

from schemas import json
from schemas.fields import FieldError
from streams.geofence.geofencer import reason_label


class Refused(Exception):
    """A refused request: its status and every wrong field. `title` is the body's `error` (else the
    caller's), `labels` its metric reasons (else the fields), `headers` and `extra` (more keys of the
    body) what this kind of refusal adds to the answer."""

    def __init__(
        self,
        status: int,
        errors: list[FieldError],
        *,
        title: str | None = None,
        labels: list[str] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ):
        super().__init__(errors[0] if errors else "refused")
        self.status, self.errors = status, errors
        self.title, self.labels = title, labels
        self.headers, self.extra = dict(headers or {}), dict(extra or {})

    def reasons(self) -> list[str]:
        """Its metric labels (`labels`, else the fields), each once: 300 bad pings are one refusal at `pings.*.lat`."""
        return list(dict.fromkeys(self.labels or [reason_label(e) for e in self.errors]))

    def answer(self, title: str) -> web.Response:
        """The answer to send; `title` is the body's `error` when the refusal has none of its own."""
        return refusal_response(self.status, self.title or title, self.errors, self.headers, **self.extra)


def refusal_body(error: str, errors: Iterable[FieldError], **extra) -> dict:
    """The body of every refusal: a short `error`, then each wrong field with its reason."""
    return {"error": error, "errors": [e.as_dict() for e in errors], **extra}


def refusal_response(
    status: int, error: str, errors: Iterable[FieldError], headers: Mapping[str, str] | None = None, **extra
) -> web.Response:
    """A refusal as an HTTP answer (aiohttp's, which Faust's views answer with too)."""
    return web.Response(
        body=json.dumps(refusal_body(error, errors, **extra)),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )
