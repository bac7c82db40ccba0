"""Authentication of HTTP requests: devices on the ingest API by bearer token or by an HMAC signature of
the body, dispatchers on the actions API and the console by bearer token. Each refusal names the reason
in the body and in a bounded metric label."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Mapping

from schemas.fields import FieldError
from sinks.credentials import Credential
from streams.credentials import CredentialCache
from streams.http.refusal import Refused

AUTH_FIELD = "Authorization"
DEVICE, TIMESTAMP, SIGNATURE = "X-Redwall-Device", "X-Redwall-Timestamp", "X-Redwall-Signature"
SIGNATURE_WINDOW_SECONDS = 300  # phone clocks drift; NTP-synced ones are well within this
READY_WAIT_SECONDS = 5.0  # a request arriving while a worker starts waits for the first load this long


class Unauthorized(Refused):
    """A refused credential: `labels` are the metric reasons (auth_missing, auth_unknown, ...)."""

    def __init__(self, status: int, field: str, reason: str, label: str):
        super().__init__(
            status,
            [FieldError(field, reason)],
            labels=[label],
            title={401: "unauthenticated", 403: "forbidden"}.get(status, "unavailable"),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None,
        )


def bearer_token(headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> str:
    """The token of `Authorization: Bearer <token>`, else (the console's page and SSE) `?token=`."""
    scheme, _, token = headers.get(AUTH_FIELD, "").partition(" ")
    if scheme.lower() == "bearer":
        return token.strip()
    return (query or {}).get("token", "")


async def authenticate(
    cache: CredentialCache,
    kind: str | tuple[str, ...],
    headers: Mapping[str, str],
    query: Mapping[str, str] | None = None,
) -> Credential:
    """The live credential of kind `kind` (or one of the kinds) the request carries, or Unauthorized saying why
    not. A signed device request names its device here; it is authenticated only once `check_signature` passes."""
    kinds = (kind,) if isinstance(kind, str) else kind
    kind = " or ".join(kinds)
    if not await cache.wait_ready(READY_WAIT_SECONDS):
        raise Unauthorized(
            503, AUTH_FIELD, "credentials are still loading from the database: retry shortly", "auth_unavailable"
        )
    if "device" in kinds and SIGNATURE in headers:
        return await signed_device(cache, headers)
    token = bearer_token(headers, query)
    if not token:
        raise Unauthorized(401, AUTH_FIELD, f"missing: send 'Authorization: Bearer <{kind} token>'", "auth_missing")
    credential = await cache.identify(token)
    if credential is None:
        raise Unauthorized(401, AUTH_FIELD, f"unknown token: not {_a(kind)} credential issued here", "auth_unknown")
    if credential.revoked:
        raise Unauthorized(401, AUTH_FIELD, "revoked token: ask for a new credential", "auth_revoked")
    if credential.kind not in kinds:
        raise Unauthorized(401, AUTH_FIELD, f"{_a(credential.kind)} token: this needs {_a(kind)} token", "auth_kind")
    return credential


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def same_device(records: list[dict], device: Credential, indexed: bool) -> None:
    """A device reports only as itself: every record's `device` must be the token's."""
    for i, record in enumerate(records):
        if record["device"] != device.subject:
            field = f"{i}.device" if indexed else "device"
            reason = f"is {record['device']!r:.80} but the token is device {device.subject}'s: a device reports only as itself"
            raise Unauthorized(403, field, reason, "device_mismatch")


async def signed_device(cache: CredentialCache, headers: Mapping[str, str]) -> Credential:
    """The device named by X-Redwall-Device, when it holds a live credential; its signature is checked
    by `check_signature` once the body is read."""
    device = headers.get(DEVICE, "")
    held = await cache.live_key("device", device)
    if held is None:
        raise Unauthorized(
            401, DEVICE, f"{device!r:.80} holds no live credential (never issued, or revoked)", "auth_unknown"
        )
    return held[1]


def check_signature(
    cache: CredentialCache,
    device: Credential,
    headers: Mapping[str, str],
    body: bytes,
    replays: ReplayGuard,
    now: float | None = None,
) -> None:
    """For a signed request: `X-Redwall-Signature: sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>`, the key
    being the raw 32-byte SHA-256 digest of the token (what the store holds; schemas/openapi.SIGNING_EXAMPLE),
    with a timestamp within SIGNATURE_WINDOW_SECONDS of ours, each signature accepted once. No-op for a
    bearer token."""
    if SIGNATURE not in headers:
        return
    stamp = headers.get(TIMESTAMP, "")
    now = time.time() if now is None else now
    # ASCII digits only, and few: str.isdigit() also takes '²' and other scripts' digits, which int() refuses.
    if (
        not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12)
        or abs(now - int(stamp)) > SIGNATURE_WINDOW_SECONDS
    ):
        raise Unauthorized(
            401,
            TIMESTAMP,
            f"must be Unix seconds within {SIGNATURE_WINDOW_SECONDS} s of the "
            f"server's clock ({int(now)}), got {stamp!r:.40}",
            "signature_stale",
        )
    key, _ = cache.key_of("device", device.subject) or (b"", None)
    expected = "sha256=" + hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not key or not hmac.compare_digest(expected.encode(), headers[SIGNATURE].encode()):
        raise Unauthorized(
            401, SIGNATURE, "does not match the body and timestamp under this device's key", "signature_invalid"
        )
    if not replays.first(expected, int(stamp), now):
        raise Unauthorized(
            401,
            SIGNATURE,
            "this signed request was accepted before: a replay (sign a retry afresh, with a new timestamp)",
            "signature_replayed",
        )


class ReplayGuard:
    """Signatures seen within the window, so a captured signed request is refused the second time on
    this worker (another worker would accept it once more; deterministic ids make that harmless)."""

    def __init__(self, max_entries: int = 200_000):
        self.max_entries = max_entries
        self._seen: OrderedDict[str, int] = OrderedDict()  # signature -> its timestamp, in arrival order

    def first(self, signature: str, stamp: int, now: float) -> bool:
        horizon = now - SIGNATURE_WINDOW_SECONDS
        while self._seen and (next(iter(self._seen.values())) < horizon or len(self._seen) >= self.max_entries):
            self._seen.popitem(last=False)
        if signature in self._seen:
            return False
        self._seen[signature] = stamp
        return True
