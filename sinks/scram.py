"""SCRAM-SHA-256 verifiers of role passwords, made on this side as `psql`'s \\password makes them: PostgreSQL
stores a verifier given to `ALTER ROLE ... PASSWORD` as it is, so a role's password never reaches the server
or its log in clear, and no character of it (quotes, backslashes, spaces, CJK) is ever pasted into SQL.

The password is prepared as PostgreSQL's own `pg_saslprep` (src/common/saslprep.c) prepares it, with the
RFC 3454 tables of Python's `stringprep`; tests/sinks/test_scram.py checks it against the server's own
verifiers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import stringprep
import unicodedata

ITERATIONS = 4096  # PostgreSQL's default scram_iterations
_VERIFIER = re.compile(r"SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)")
_PROHIBITED = (
    stringprep.in_table_c12,
    stringprep.in_table_c21_c22,
    stringprep.in_table_c3,
    stringprep.in_table_c4,
    stringprep.in_table_c5,
    stringprep.in_table_c6,
    stringprep.in_table_c7,
    stringprep.in_table_c8,
    stringprep.in_table_c9,
    stringprep.in_table_a1,
)  # unassigned code points are refused too


def verifier(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, as PostgreSQL keeps in pg_authid."""
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password).encode(), salt, iterations)
    stored = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server = hmac.digest(salted, b"Server Key", "sha256")
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored)}:{_b64(server)}"


def matches(password: str, stored: str | None) -> bool:
    """Whether `stored` (a pg_authid.rolpassword) is a SCRAM verifier of `password`."""
    found = _VERIFIER.fullmatch(stored or "")
    if found is None:
        return False
    again = verifier(password, base64.b64decode(found[2]), int(found[1]))
    return hmac.compare_digest(again, stored)


def saslprep(password: str) -> str:
    """The password as PostgreSQL hashes it: ASCII as it is; otherwise mapped and NFKC-normalised, unless
    it holds a prohibited or unassigned character or breaks the bidi rules, when PostgreSQL (and asyncpg,
    which logs in) use it as it is."""
    if password.isascii():
        return password
    # Spaces first, as PostgreSQL does: U+200B is in both tables, and PostgreSQL makes it a space.
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c
        for c in password
        if stringprep.in_table_c12(c) or not stringprep.in_table_b1(c)
    )
    if not mapped or any(table(c) for c in mapped for table in _PROHIBITED) or not _bidi_ok(mapped):
        return password
    return unicodedata.normalize("NFKC", mapped)


def _bidi_ok(text: str) -> bool:
    """RFC 3454 section 6: right-to-left text holds no left-to-right character and starts and ends right-to-left."""
    if not any(stringprep.in_table_d1(c) for c in text):
        return True
    return (
        not any(stringprep.in_table_d2(c) for c in text)
        and stringprep.in_table_d1(text[0])
        and stringprep.in_table_d1(text[-1])
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
