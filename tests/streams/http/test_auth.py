"""Request authentication as pure logic: a cache filled by hand (no database), an injected clock."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from schemas.openapi import SIGNING_EXAMPLE, document
from sinks.credentials import Credential, token_hash
from streams.credentials import CredentialCache
from streams.http.auth import ReplayGuard, Unauthorized, authenticate, bearer_token, check_signature, same_device

NOW = 1_800_000_000


@pytest.fixture
def cache():
    cache = CredentialCache(connect=None)
    cache.ready = True
    cache._loaded.set()
    for token, credential in {
        "dev-token": Credential("device", "dev-1"),
        "old-token": Credential("device", "dev-2", revoked=True),
        "street-token": Credential("dispatcher", "wang", "street"),
    }.items():
        cache._store(token_hash(token), credential)
    return cache


def signed(body: bytes, stamp: int, token: str = "dev-token", device: str = "dev-1") -> dict[str, str]:
    key = hashlib.sha256(token.encode()).digest()
    mac = hmac.new(key, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Redwall-Device": device, "X-Redwall-Timestamp": str(stamp), "X-Redwall-Signature": f"sha256={mac}"}


async def refusal(coroutine) -> tuple[int, str, str]:
    with pytest.raises(Unauthorized) as refused:
        await coroutine
    error = refused.value.errors[0]
    return refused.value.status, error.field, refused.value.labels[0]


def test_the_token_comes_from_the_header_or_else_the_query():
    assert bearer_token({"Authorization": "Bearer abc"}) == "abc"
    assert bearer_token({"Authorization": "bearer  abc "}) == "abc"
    assert bearer_token({}, {"token": "q"}) == "q"
    assert bearer_token({"Authorization": "Basic xyz"}) == ""


async def test_bearer_tokens(cache):
    assert (await authenticate(cache, "device", {"Authorization": "Bearer dev-token"})).subject == "dev-1"
    assert await refusal(authenticate(cache, "device", {})) == (401, "Authorization", "auth_missing")
    assert await refusal(authenticate(cache, "device", {"Authorization": "Bearer nope"})) == (
        401,
        "Authorization",
        "auth_unknown",
    )
    assert await refusal(authenticate(cache, "device", {"Authorization": "Bearer old-token"})) == (
        401,
        "Authorization",
        "auth_revoked",
    )
    assert await refusal(authenticate(cache, "device", {"Authorization": "Bearer street-token"})) == (
        401,
        "Authorization",
        "auth_kind",
    )
    assert (await authenticate(cache, "dispatcher", {}, {"token": "street-token"})).role == "street"


async def test_not_ready_is_503_so_phones_retry(cache, monkeypatch):
    cache.ready = False
    cache._loaded.clear()
    monkeypatch.setattr(cache, "start", lambda: None)  # nothing loads it: the wait times out
    monkeypatch.setattr("streams.http.auth.READY_WAIT_SECONDS", 0.01)
    assert (await refusal(authenticate(cache, "device", {"Authorization": "Bearer dev-token"})))[0] == 503


def test_a_device_reports_only_as_itself():
    me = Credential("device", "dev-1")
    same_device([{"device": "dev-1"}], me, indexed=False)
    with pytest.raises(Unauthorized) as refused:
        same_device([{"device": "dev-1"}, {"device": "dev-9"}], me, indexed=True)
    assert refused.value.status == 403 and refused.value.errors[0].field == "1.device"


async def test_a_signed_request_is_accepted_once_within_the_window(cache):
    body, replays = b'{"device": "dev-1", "pings": []}', ReplayGuard()
    headers = signed(body, NOW - 10)
    device = await authenticate(cache, "device", headers)  # no bearer token: the signature stands in
    assert device.subject == "dev-1"
    check_signature(cache, device, headers, body, replays, now=NOW)
    with pytest.raises(Unauthorized, match="replay"):
        check_signature(cache, device, headers, body, replays, now=NOW)


@pytest.mark.parametrize(
    "change, field, label",
    [
        (lambda h, b: (h, b + b" "), "X-Redwall-Signature", "signature_invalid"),  # body altered
        (lambda h, b: ({**h, "X-Redwall-Timestamp": str(NOW - 301)}, b), "X-Redwall-Timestamp", "signature_stale"),
        (lambda h, b: ({**h, "X-Redwall-Timestamp": "yesterday"}, b), "X-Redwall-Timestamp", "signature_stale"),
        (
            lambda h, b: ({**h, "X-Redwall-Timestamp": "\u00b2"}, b),
            "X-Redwall-Timestamp",
            "signature_stale",
        ),  # a digit to isdigit()
        (
            lambda h, b: ({**h, "X-Redwall-Timestamp": "9" * 5000}, b),
            "X-Redwall-Timestamp",
            "signature_stale",
        ),  # beyond int()
        (lambda h, b: (signed(b, NOW, token="other"), b), "X-Redwall-Signature", "signature_invalid"),
    ],
)
async def test_a_bad_signature_is_refused_naming_the_header(cache, change, field, label):
    body = b'{"device": "dev-1"}'
    headers, sent = change(signed(body, NOW), body)
    device = await authenticate(cache, "device", headers)
    with pytest.raises(Unauthorized) as refused:
        check_signature(cache, device, headers, sent, ReplayGuard(), now=NOW)
    assert (refused.value.errors[0].field, refused.value.labels[0]) == (field, label)


async def test_a_revoked_or_unknown_device_cannot_sign(cache):
    assert await refusal(authenticate(cache, "device", signed(b"{}", NOW, "old-token", "dev-2"))) == (
        401,
        "X-Redwall-Device",
        "auth_unknown",
    )


def test_the_replay_guard_forgets_what_is_outside_the_window_and_stays_bounded():
    guard = ReplayGuard(max_entries=3)
    assert all(guard.first(f"s{i}", NOW, NOW) for i in range(10))
    assert len(guard._seen) <= 3
    assert guard.first("s9", NOW, NOW + 301)  # outside the window: forgotten (its timestamp is refused anyway)


async def test_the_worked_signing_example_of_the_http_readme_and_the_openapi_document_is_what_the_worker_accepts(cache):
    e = SIGNING_EXAMPLE
    body = e["body"].encode()
    key = hashlib.sha256(e["token"].encode()).digest()  # the recipe as written: the digest's raw bytes
    assert key.hex() == e["key_hex"]
    assert "sha256=" + hmac.new(key, f"{e['timestamp']}.".encode() + body, hashlib.sha256).hexdigest() == e["signature"]
    cache._store(token_hash(e["token"]), Credential("device", e["device"]))
    headers = {
        "X-Redwall-Device": e["device"],
        "X-Redwall-Timestamp": e["timestamp"],
        "X-Redwall-Signature": e["signature"],
    }
    device = await authenticate(cache, "device", headers)
    check_signature(cache, device, headers, body, ReplayGuard(), now=int(e["timestamp"]))
    # Keyed with the digest's hex text instead of its bytes, the signature is refused: the two readings differ.
    wrong = hmac.new(e["key_hex"].encode(), f"{e['timestamp']}.".encode() + body, hashlib.sha256).hexdigest()
    with pytest.raises(Unauthorized, match="does not match"):
        check_signature(
            cache,
            device,
            {**headers, "X-Redwall-Signature": f"sha256={wrong}"},
            body,
            ReplayGuard(),
            now=int(e["timestamp"]),
        )
    readme = (Path(__file__).parents[3] / "streams" / "http" / "README.md").read_text()  # Authentication
    described = document(1000)["components"]["securitySchemes"]["signature"]["description"]
    for value in (e["token"], e["key_hex"], e["timestamp"], e["body"], e["signature"]):
        assert value in readme and value in described, value
    assert "32 raw bytes of SHA-256" in readme and "32 raw bytes of SHA-256" in described
