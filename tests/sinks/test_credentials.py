"""The credential store against the session's real Postgres: hashing, issue, revoke, list, races."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import asyncpg
import pytest

from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY
from sinks.credentials import CredentialError, check, issue, issue_device_token, listing, load_all, revoke, token_hash
from sinks.migrate import known_migrations, migrate
from sinks.postgres import seed_places
from tests.support.databases import own_database

COMMUNITIES = {"c01", "c02"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_a_token_is_stored_as_its_sha256_and_never_in_clear():
    assert token_hash("abc") == hashlib.sha256(b"abc").digest() and len(token_hash("abc")) == 32


@pytest.mark.parametrize(
    "kind, subject, role, community, message",
    [
        ("device", "bad id", None, None, "a device id is"),
        ("device", "d" * 65, None, None, "a device id is"),
        ("device", "dev-1", "street", None, "no role"),
        ("dispatcher", "wang", "boss", None, "role must be one of read, community, street"),
        ("dispatcher", "wang", "community", "c99", "unknown community 'c99'; the geometry has c01, c02"),
        ("dispatcher", "wang", "community", None, "unknown community None"),
        ("dispatcher", "wang", "street", "c01", "--community goes only with --role community"),
        ("phone", "x", None, None, "kind must be one of"),
    ],
)
def test_credentials_that_could_never_be_used_are_refused_naming_the_fix(kind, subject, role, community, message):
    with pytest.raises(CredentialError, match=message.replace("(", r"\(")):
        check(kind, subject, role, community, COMMUNITIES)


async def test_issue_shows_the_token_once_and_stores_only_its_hash(pg):
    device = unique("store-dev")
    first = await issue(pg, "device", device)
    assert first.token and first.credential.subject == device
    stored = await pg.fetchrow("SELECT * FROM credentials WHERE subject = $1", device)
    assert bytes(stored["token_sha256"]) == token_hash(first.token)
    assert first.token.encode() not in repr(dict(stored)).encode()
    again = await issue(pg, "device", device)  # idempotent: the live one, its token not shown again
    assert again.token is None and again.created_at == first.created_at
    assert await pg.fetchval("SELECT count(*) FROM credentials WHERE subject = $1", device) == 1


async def test_revoke_is_for_good_and_a_second_revoke_says_when(pg):
    device = unique("store-dev")
    issued = await issue(pg, "device", device)
    when = await revoke(pg, "device", device)
    with pytest.raises(CredentialError, match="already revoked at"):
        await revoke(pg, "device", device)
    with pytest.raises(CredentialError, match="unknown device"):
        await revoke(pg, "device", unique("never"))
    table = await load_all(pg)
    assert table[token_hash(issued.token)].revoked
    reissued = await issue(pg, "device", device)  # a revoked device may be given a new credential
    assert reissued.token and reissued.token != issued.token
    rows = {r["subject"]: r for r in await listing(pg, "device")}
    assert rows[device]["revoked_at"] is None and rows[device]["created_at"] > when


async def test_a_dispatcher_role_cannot_change_silently(pg):
    name = unique("wang")
    await issue(pg, "dispatcher", name, role="community", community="c01", communities=COMMUNITIES)
    with pytest.raises(CredentialError, match="revoke it first"):
        await issue(pg, "dispatcher", name, role="street")
    same = await issue(pg, "dispatcher", name, role="community", community="c01", communities=COMMUNITIES)
    assert same.token is None and same.credential.community == "c01"


async def test_concurrent_issues_leave_exactly_one_live_credential(database_url):
    device = unique("race-dev")
    pool = await asyncpg.create_pool(database_url, min_size=8, max_size=8)
    try:
        results = await asyncio.gather(*[issue(pool, "device", device) for _ in range(8)])
        rotated = await asyncio.gather(*[issue_device_token(pool, device) for _ in range(8)])
        live = await pool.fetch(
            "SELECT token_sha256 FROM credentials WHERE subject = $1 AND revoked_at IS NULL", device
        )
    finally:
        await pool.close()
    assert sum(r.token is not None for r in results) == 1
    assert len(live) == 1 and bytes(live[0]["token_sha256"]) in {token_hash(t) for t in rotated}


async def test_grafanas_read_only_role_cannot_read_credentials(pg):
    """Migration 0007 takes back what grafana-reader.sh's default privileges give Grafana on this table."""
    migration = next(m for m in known_migrations() if m.name == "credentials_private")
    await pg.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'grafana_reader') THEN "
        "CREATE ROLE grafana_reader NOLOGIN; END IF; END $$"
    )
    try:
        await pg.execute("GRANT SELECT ON credentials, reports TO grafana_reader")  # as the default privileges do
        await pg.execute(migration.sql())
        can_read = "SELECT has_table_privilege('grafana_reader', $1, 'SELECT')"
        assert not await pg.fetchval(can_read, "credentials")
        assert await pg.fetchval(can_read, "reports")  # the dashboards' tables stay readable
    finally:
        await pg.execute("REVOKE ALL ON credentials, reports FROM grafana_reader")
        await pg.execute("DROP ROLE grafana_reader")


async def test_a_change_notification_names_the_row_and_carries_no_token_hash(database_url, pg):
    """Any login may LISTEN: the notification says which row changed, and the caches read it themselves."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    await pg.add_listener("redwall_credentials", lambda *args: heard.put_nowait(args[-1]))
    issued = await issue(database_url, "device", unique("notify"))
    payload = await asyncio.wait_for(heard.get(), 5)
    row = await pg.fetchrow(
        "SELECT id, token_sha256 FROM credentials WHERE token_sha256 = $1", token_hash(issued.token)
    )
    assert payload == str(row["id"])
    assert bytes(row["token_sha256"]).hex() not in payload and issued.token not in payload


@pytest.mark.parametrize(
    "role, street, streets, message",
    [
        ("street", None, ("east", "west"), "a street dispatcher needs --street, one of east, west"),
        ("street", "north", ("east", "west"), "unknown street 'north'; the geometry has east, west"),
        ("district", "east", ("east", "west"), "a district dispatcher sees every street; leave out --street"),
    ],
)
def test_a_street_is_checked_against_the_geometrys_streets(role, street, streets, message):
    with pytest.raises(CredentialError, match=message):
        check("dispatcher", "wang", role, None, COMMUNITIES, street, streets)


async def test_a_street_is_kept_with_the_credential_and_a_district_has_none(database_url, pg):
    names = unique("east"), unique("district")
    await issue(database_url, "dispatcher", names[0], role="street", street="east", streets=("east", "west"))
    await issue(database_url, "dispatcher", names[1], role="district")
    held = {c.subject: (c.role, c.street) for c in (await load_all(pg)).values() if c.subject in names}
    assert held == {names[0]: ("street", "east"), names[1]: ("district", None)}
    with pytest.raises(asyncpg.CheckViolationError):  # the store holds it even against hand-written SQL
        await pg.execute(
            "INSERT INTO credentials (kind, subject, role, street_id, token_sha256) VALUES "
            "('dispatcher', $1, 'district', 'east', $2)",
            unique("x"),
            token_hash(unique("t")),
        )


async def test_migration_0020_gives_earlier_dispatchers_their_street(database_url, tmp_path):
    """A community dispatcher gets its community's street, a street dispatcher the one street of the places."""
    earlier = tmp_path / "migrations"
    earlier.mkdir()
    for migration in (m for m in known_migrations() if m.version < 20):
        (earlier / migration.path.name).write_text(migration.sql())
    url = await own_database(database_url, "credentials_0020")
    await migrate(url, earlier)
    await seed_places(url, load_geometry(SAMPLE_GEOMETRY, check_areas=False))
    conn = await asyncpg.connect(url)
    try:
        for subject, role, community in (("s", "street", None), ("c", "community", "c08"), ("r", "read", None)):
            await conn.execute(
                "INSERT INTO credentials (kind, subject, role, community_id, token_sha256) VALUES "
                "('dispatcher', $1, $2, $3, $4)",
                *(subject, role, community, token_hash(unique(subject))),
            )
        await migrate(url)
        streets = dict(await conn.fetch("SELECT subject, street_id FROM credentials"))
    finally:
        await conn.close()
    assert streets == {"s": "xichangan", "c": "xichangan", "r": None}
