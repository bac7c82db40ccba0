"""The credential cache against the session's real Postgres: load, LISTEN/NOTIFY, reconnect, roles."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from sinks.credentials import Credential, issue, issue_device_token, revoke, token_hash
from streams.credentials import CHANNEL, MISS_LOOKUPS_PER_SECOND, CredentialCache
from streams.scope import refusal


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize(
    "credential, community, allowed",
    [
        (Credential("dispatcher", "s", "street"), "c05", True),
        (Credential("dispatcher", "c", "community", "c03"), "c03", True),
        (Credential("dispatcher", "c", "community", "c03"), "c04", False),
        (Credential("dispatcher", "r", "read"), "c03", False),
        (Credential("device", "dev-1"), "c03", False),
    ],
)
def test_roles(credential, community, allowed):
    assert (refusal(credential, community) is None) == allowed


def test_a_refusal_says_whose_community_it_is():
    why = refusal(Credential("dispatcher", "wang", "community", "c03"), "c04")
    assert "wang" in why and "c03" in why and "c04" in why


@pytest.fixture
async def cache(database_url):
    cache = CredentialCache(lambda: asyncpg.connect(database_url), reload_seconds=60, registry=CollectorRegistry())
    task = cache.start()
    assert await cache.wait_ready(10)
    yield cache
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def until(predicate, timeout: float = 5.0) -> float:
    """Seconds until `predicate()` (a coroutine function) holds."""
    started = time.monotonic()
    while not await predicate():
        assert time.monotonic() - started < timeout, "timed out"
        await asyncio.sleep(0.001)
    return time.monotonic() - started


async def test_a_revocation_reaches_the_cache_by_notification_in_milliseconds(cache, pg):
    device = unique("cache-dev")
    token = await issue_device_token(pg, device)
    await until(lambda: _known(cache, token))
    seconds = []
    for _ in range(5):
        token = await issue_device_token(pg, device)  # revokes the previous token: a notification each
        await until(lambda token=token: _known(cache, token))
        await revoke(pg, "device", device)
        seconds.append(await until(lambda token=token: _revoked(cache, token)))
    print(f"\nrevocation -> cache: median {sorted(seconds)[2] * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms")
    assert (await cache.identify(token)).revoked


async def test_a_fresh_token_is_known_at_once_even_before_its_notification(cache, pg):
    device = unique("fresh-dev")
    await cache._conn.remove_listener(CHANNEL, cache._notified)  # as if the notification were late
    try:
        token = await issue_device_token(pg, device)
        assert not await _known(cache, token)
        found = await cache.identify(token)  # a miss is looked up in Postgres
    finally:
        await cache._conn.add_listener(CHANNEL, cache._notified)
    assert found is not None and found.subject == device and not found.revoked
    assert await _known(cache, token)  # and kept


async def test_a_fresh_device_key_is_known_at_once_for_its_first_signed_request(cache, pg):
    """A signed request names its device, not a token: on a miss its live key is looked up as a token is."""
    device = unique("fresh-signer")
    await cache._conn.remove_listener(CHANNEL, cache._notified)  # as if the notification were late
    try:
        token = await issue_device_token(pg, device)
        assert cache.key_of("device", device) is None
        held = await cache.live_key("device", device)
    finally:
        await cache._conn.add_listener(CHANNEL, cache._notified)
    assert held is not None and held[0] == token_hash(token) and held[1].subject == device
    assert cache.key_of("device", device) == held  # and kept
    assert await cache.live_key("device", unique("never-issued")) is None


async def test_unknown_tokens_cost_the_database_a_bounded_number_of_lookups(cache):
    cache._misses = (time.monotonic(), 0)
    allowed = [cache._may_look_up() for _ in range(MISS_LOOKUPS_PER_SECOND * 3)]
    assert sum(allowed) == MISS_LOOKUPS_PER_SECOND
    assert await cache.identify("made-up") is None


async def test_a_lost_connection_is_replaced_and_a_revocation_made_meanwhile_is_caught(cache, pg):
    device = unique("lost-dev")
    token = (await issue(pg, "device", device)).token
    await until(lambda: _known(cache, token))
    # Kill the cache's listening connection, as a Postgres restart would, and revoke while it is down.
    await pg.execute("SELECT pg_terminate_backend($1)", cache._conn.get_server_pid())
    await revoke(pg, "device", device)
    assert cache.table  # meanwhile the last table still answers
    seconds = await until(lambda: _revoked(cache, token), timeout=10)
    print(f"\nrevocation while disconnected -> cache after reconnect: {seconds:.2f} s")
    assert cache.stale_seconds() == 0.0


async def test_a_full_reload_never_undoes_a_revocation(cache, pg):
    device = unique("reload-dev")
    token = (await issue(pg, "device", device)).token
    await until(lambda: _known(cache, token))
    await revoke(pg, "device", device)
    await until(lambda: _revoked(cache, token))
    await cache.reload()
    assert (await cache.identify(token)).revoked


async def _known(cache, token) -> bool:
    found = cache.table.get(token_hash(token))
    return found is not None and not found.revoked


async def _revoked(cache, token) -> bool:
    found = cache.table.get(token_hash(token))
    return found is not None and found.revoked


async def test_the_periodic_check_reloads_only_when_a_change_was_missed(cache, pg):
    assert not await cache.check()  # in step: nothing to load
    await cache._conn.remove_listener(CHANNEL, cache._notified)  # a notification lost
    try:
        token = await issue_device_token(pg, unique("missed-dev"))
        assert not await _known(cache, token)
        assert await cache.check()
    finally:
        await cache._conn.add_listener(CHANNEL, cache._notified)
    assert await _known(cache, token)
