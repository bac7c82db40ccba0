"""The credential store in Postgres: device and dispatcher tokens, issued once, kept only as hashes,
revoked for good. `redwall devices|dispatchers` and the tests issue through here; workers and the
console read it through the cache in streams/credentials.py."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from schemas.records import ID_PATTERN
from sinks.postgres import connection

KINDS = ("device", "dispatcher", "integration")  # integration: an adapter posting 12345 orders
ROLES = ("read", "community", "street", "district")  # district: every street of the district, the level above
_SUBJECT = re.compile(ID_PATTERN)
MAX_SUBJECT = 64  # the length a report's `device` and an action's `actor` may have


class CredentialError(ValueError):
    """A request the store refuses (unknown community, unknown device, already revoked ...): the message
    says which and what to do."""


class AlreadyRevoked(CredentialError):
    """A second revoke: nothing changes; `at` says since when it has been revoked."""

    def __init__(self, kind: str, subject: str, at: datetime):
        super().__init__(f"{kind} {subject} was already revoked at {at.isoformat(timespec='seconds')}")
        self.at = at


@dataclass(frozen=True, slots=True)  # slots: a city's 100,000 phones are held in every worker
class Credential:
    """Who holds a token: a device (subject = device id) or a dispatcher with a role."""

    kind: str
    subject: str
    role: str | None = None
    community: str | None = None
    revoked: bool = False
    street: str | None = None  # the street it sees and acts on; None: every street (district, or read of all)


@dataclass(frozen=True)
class Issued:
    credential: Credential
    created_at: datetime
    token: str | None  # None: the subject already held a live credential, whose token is never shown again


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 random bits


def token_hash(token: str) -> bytes:
    # A plain SHA-256, no salt and no slow KDF: those protect guessable passwords. A token is 256 random
    # bits, so nobody can search for a preimage of its hash, and a fast unsalted hash lets the caches
    # find a token by its hash in a dict, in microseconds per request.
    return hashlib.sha256(token.encode()).digest()


def check(
    kind: str,
    subject: str,
    role: str | None,
    community: str | None,
    communities: Collection[str],
    street: str | None = None,
    streets: Collection[str] = (),
) -> None:
    """Refuses a credential that could never be used, naming the fix."""
    if kind not in KINDS:
        raise CredentialError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not (len(subject) <= MAX_SUBJECT and _SUBJECT.fullmatch(subject)):
        raise CredentialError(
            f"{subject!r:.80}: a {kind} id is 1..{MAX_SUBJECT} of A-Z a-z 0-9 _ . : - starting with a letter or digit"
        )
    if kind != "dispatcher":
        if role or community or street:
            raise CredentialError(f"a {kind} credential has no role, community or street")
        return
    if role not in ROLES:
        raise CredentialError(f"dispatcher {subject}: role must be one of {', '.join(ROLES)}, got {role!r}")
    if role == "community" and community not in communities:
        known = ", ".join(sorted(communities))
        raise CredentialError(f"dispatcher {subject}: unknown community {community!r}; the geometry has {known}")
    if role != "community" and community:
        raise CredentialError(f"dispatcher {subject}: --community goes only with --role community")
    _check_street(subject, role, street, streets)


def _check_street(subject: str, role: str, street: str | None, streets: Collection[str]) -> None:
    if role == "district" and street:
        raise CredentialError(f"dispatcher {subject}: a district dispatcher sees every street; leave out --street")
    if role == "street" and street is None and len(streets) > 1:
        raise CredentialError(f"dispatcher {subject}: a street dispatcher needs --street, one of {', '.join(streets)}")
    if street is not None and street not in streets:
        raise CredentialError(f"dispatcher {subject}: unknown street {street!r}; the geometry has {', '.join(streets)}")


async def issue(
    db,
    kind: str,
    subject: str,
    *,
    role: str | None = None,
    community: str | None = None,
    communities: Collection[str] = (),
    street: str | None = None,
    streets: Collection[str] = (),
    rotate: bool = False,
) -> Issued:
    """A new credential; when one is live already, that one unchanged (token None), or with `rotate` it is
    revoked and replaced in the same transaction. Race-safe: issues of one subject take turns on an
    advisory lock, and the partial unique index holds even against a hand-written INSERT."""
    check(kind, subject, role, community, communities, street, streets)
    token = new_token()
    async with connection(db) as conn:
        for _ in range(3):  # a revoke committing between our insert and our read of the live row: again
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"credentials:{kind}:{subject}")
                if rotate:
                    await conn.execute(
                        "UPDATE credentials SET revoked_at = now() WHERE kind = $1 AND subject = $2 "
                        "AND revoked_at IS NULL",
                        kind,
                        subject,
                    )
                created = await conn.fetchval(
                    "INSERT INTO credentials (kind, subject, role, community_id, street_id, token_sha256) "
                    "VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT (kind, subject) WHERE revoked_at IS NULL DO NOTHING RETURNING created_at",
                    kind,
                    subject,
                    role,
                    community,
                    street,
                    token_hash(token),
                )
                if created is not None:
                    return Issued(Credential(kind, subject, role, community, street=street), created, token)
                live = await _live(conn, kind, subject)
            if live is not None and not rotate:
                return _unchanged(live, role, community, street)
    raise CredentialError(f"{kind} {subject}: its credential keeps changing under us; try again")


def _unchanged(live: asyncpg.Record, role: str | None, community: str | None, street: str | None) -> Issued:
    held = Credential(live["kind"], live["subject"], live["role"], live["community_id"], street=live["street_id"])
    if (held.role, held.community, held.street) != (role, community, street):
        where = held.community or held.street
        raise CredentialError(
            f"{held.kind} {held.subject} already holds a live credential with role {held.role}"
            f"{' for ' + where if where else ''}: revoke it first to change it"
        )
    return Issued(held, live["created_at"], None)


async def _live(conn: asyncpg.Connection, kind: str, subject: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM credentials WHERE kind = $1 AND subject = $2 AND revoked_at IS NULL", kind, subject
    )


async def revoke(db, kind: str, subject: str) -> datetime:
    """Revokes the live credential; the time it took effect in the store. Revoking twice is an error
    that says when it was revoked; the state stays as asked."""
    async with connection(db) as conn:
        revoked = await conn.fetchval(
            "UPDATE credentials SET revoked_at = now() WHERE kind = $1 AND subject = $2 "
            "AND revoked_at IS NULL RETURNING revoked_at",
            kind,
            subject,
        )
        if revoked is not None:
            return revoked
        last = await conn.fetchval(
            "SELECT max(revoked_at) FROM credentials WHERE kind = $1 AND subject = $2", kind, subject
        )
    if last is None:
        raise CredentialError(f"unknown {kind} {subject!r:.80}: it was never issued a credential")
    raise AlreadyRevoked(kind, subject, last)


async def listing(db, kind: str) -> list[asyncpg.Record]:
    """Each subject's newest credential (live, or the last revoked), by subject."""
    async with connection(db) as conn:
        return await conn.fetch(
            "SELECT DISTINCT ON (subject) subject, role, community_id, street_id, created_at, revoked_at FROM credentials "
            "WHERE kind = $1 ORDER BY subject, id DESC",
            kind,
        )


def row_credential(row) -> Credential:
    return Credential(row["kind"], row["subject"], row["role"], row["community"], row["revoked"], row["street_id"])


_SELECT = (
    "SELECT kind, subject, role, community_id AS community, street_id, revoked_at IS NOT NULL AS revoked, token_sha256 "
    "FROM credentials"
)


async def load_all(conn: asyncpg.Connection) -> dict[bytes, Credential]:
    """Every credential by its token's hash, revoked ones too (so a refusal can say "revoked")."""
    return {bytes(r["token_sha256"]): row_credential(r) for r in await conn.fetch(_SELECT)}


async def load_one(conn: asyncpg.Connection, digest: bytes) -> Credential | None:
    row = await conn.fetchrow(_SELECT + " WHERE token_sha256 = $1", digest)
    return None if row is None else row_credential(row)


async def load_live(conn: asyncpg.Connection, kind: str, subject: str) -> tuple[bytes, Credential] | None:
    """The live credential of a device or dispatcher and its token's hash, when it holds one."""
    row = await conn.fetchrow(_SELECT + " WHERE kind = $1 AND subject = $2 AND revoked_at IS NULL", kind, subject)
    return None if row is None else (bytes(row["token_sha256"]), row_credential(row))


async def load_by_id(conn: asyncpg.Connection, credential_id: int) -> tuple[bytes, Credential] | None:
    """One credential row and its token's hash, by the id a change notification carries."""
    row = await conn.fetchrow(_SELECT + " WHERE id = $1", credential_id)
    return None if row is None else (bytes(row["token_sha256"]), row_credential(row))


async def issue_device_token(db, device: str) -> str:
    """A fresh token for a device (any live one is revoked): for the simulator, the demo and the tests."""
    return (await issue(db, "device", device, rotate=True)).token


async def issue_dispatcher_token(
    db, name: str, role: str, community: str | None = None, street: str | None = None
) -> str:
    """A fresh token for a dispatcher (any live one is revoked); `community` and `street` are not checked
    against the geometry here, so tests may use any id: the CLI checks them. A street dispatcher without a
    street is the one street's of a one-street geometry, and of none in a district."""
    return (
        await issue(
            db,
            "dispatcher",
            name,
            role=role,
            community=community,
            communities=[community] if community else (),
            street=street,
            streets=[street] if street else (),
            rotate=True,
        )
    ).token
