"""SCRAM verifiers made on our side agree with the ones PostgreSQL makes itself from the same password, for
passwords of every kind (the server is the oracle: it hashes a password given in clear)."""

from __future__ import annotations

import uuid

import pytest

from sinks.scram import matches, saslprep, verifier

PASSWORDS = [
    "plain-ascii-123",
    'it\'s a "quoted" back\\slash; DROP TABLE reports; --',
    "  spaces around and\ttab  ",
    "西长安街网格员口令",
    "Ｆｕｌｌｗｉｄｔｈ　ｓｐａｃｅ",  # NFKC folds these, and U+3000 is a non-ASCII space (mapped to " ")
    "soft\u00adhyphen and zero\u200bwidth",  # "mapped to nothing"
    "Å ﬁ ½ ﻿é",
    "emoji 🔒 key",  # unassigned in Unicode 3.2: PostgreSQL hashes the password as it is
    "שלום123",  # right-to-left text ending left-to-right breaks the bidi rule: as it is, too
    "مرحبا",
    "$1 %L %I '' E'\\x00'",
]


@pytest.fixture
async def role(pg):
    name = f"scram_{uuid.uuid4().hex[:8]}"
    await pg.execute(f"CREATE ROLE {name} NOLOGIN")
    try:
        yield name
    finally:
        await pg.execute(f"DROP ROLE {name}")


@pytest.mark.parametrize("password", PASSWORDS)
async def test_our_verifier_is_the_one_postgresql_makes(pg, role, password):
    await pg.execute("SET password_encryption = 'scram-sha-256'")
    await pg.execute(
        await pg.fetchval("SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", role, password)
    )
    stored = await pg.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", role)
    assert stored.startswith("SCRAM-SHA-256$")
    assert matches(password, stored)
    assert not matches(password + "x", stored)


@pytest.mark.parametrize("password", PASSWORDS)
async def test_postgresql_keeps_our_verifier_as_given(pg, role, password):
    made = verifier(password)
    await pg.execute(f"ALTER ROLE {role} PASSWORD '{made}'")  # base64, digits, $ and : only: nothing to quote
    assert await pg.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", role) == made
    assert matches(password, made)


def test_saslprep_maps_spaces_drops_invisible_characters_and_keeps_what_it_may_not_touch():
    assert saslprep("Ｆｕｌｌ　ｗｉｄｔｈ") == "Full width"
    assert saslprep("soft\u00adhyphen") == "softhyphen"
    assert saslprep("emoji 🔒") == "emoji 🔒"
    assert saslprep("tab\tand ascii") == "tab\tand ascii"  # ASCII is never touched
    assert saslprep("ü\ttab") == "ü\ttab"  # a control character outside ASCII-only text: as it is
