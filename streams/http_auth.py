"""Authentication of HTTP requests by bearer token: devices on the ingest API, dispatchers on the actions
API and the console. Each refusal names the reason in the body and in a bounded metric label."""

from __future__ import annotations

from typing import Mapping

from schemas.fields import FieldError
from sinks.credentials import Credential
from streams.credentials import CredentialCache
from streams.ingest import Refused

AUTH_FIELD = "Authorization"
READY_WAIT_SECONDS = 5.0  # a request arriving while a worker starts waits for the first load this long


class Unauthorized(Refused):
    """A refused credential: `labels` are the metric reasons (auth_missing, auth_unknown, ...)."""

    def __init__(self, status: int, field: str, reason: str, label: str):
        super().__init__(status, [FieldError(field, reason)])
        self.labels = [label]
        self.title = {401: "unauthenticated", 403: "forbidden"}.get(status, "unavailable")
        self.headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else {}


def bearer_token(headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> str:
    """The token of `Authorization: Bearer <token>`, else (the console's page and SSE) `?token=`."""
    scheme, _, token = headers.get(AUTH_FIELD, "").partition(" ")
    if scheme.lower() == "bearer":
        return token.strip()
    return (query or {}).get("token", "")


async def authenticate(cache: CredentialCache, kind: str, headers: Mapping[str, str],
                       query: Mapping[str, str] | None = None) -> Credential:
    """The live credential of kind `kind` the request carries, or Unauthorized saying why not."""
    if not await cache.wait_ready(READY_WAIT_SECONDS):
        raise Unauthorized(503, AUTH_FIELD, "credentials are still loading from the database: retry shortly",
                           "auth_unavailable")
    token = bearer_token(headers, query)
    if not token:
        raise Unauthorized(401, AUTH_FIELD, f"missing: send 'Authorization: Bearer <{kind} token>'", "auth_missing")
    credential = await cache.identify(token)
    if credential is None:
        raise Unauthorized(401, AUTH_FIELD, f"unknown token: not a {kind} credential issued here", "auth_unknown")
    if credential.revoked:
        raise Unauthorized(401, AUTH_FIELD, "revoked token: ask for a new credential", "auth_revoked")
    if credential.kind != kind:
        raise Unauthorized(401, AUTH_FIELD, f"a {credential.kind} token: this needs a {kind} token", "auth_kind")
    return credential


def same_device(records: list[dict], device: Credential, indexed: bool) -> None:
    """A device reports only as itself: every record's `device` must be the token's."""
    for i, record in enumerate(records):
        if record["device"] != device.subject:
            field = f"{i}.device" if indexed else "device"
            reason = f"is {record['device']!r:.80} but the token is device {device.subject}'s: a device reports only as itself"
            raise Unauthorized(403, field, reason, "device_mismatch")
