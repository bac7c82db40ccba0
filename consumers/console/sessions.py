"""Console sign-in sessions: a dispatcher's token exchanged for a random session id carried in an
HttpOnly, SameSite=Strict cookie, so the token never travels in a URL again. Pure (injected clock):
the store, and the check that a cookie-borne request that changes something came from the console's
own page (a per-session CSRF token in a header a cross-site form cannot set)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

COOKIE = "redwall_session"
CSRF_HEADER = "X-Redwall-CSRF"
# A wall of screens signs in a few dozen times a shift; the cap only bounds a flood of sign-ins.
MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Session:
    token: str  # in memory only: forwarded to the worker as the dispatcher's own Bearer token
    csrf: str
    expires: float  # on the store's clock


class Sessions:
    """Open sessions by the hash of their id: `open` at sign-in, `get` on every request, `close` at sign-out."""

    def __init__(
        self, lifetime_seconds: float, clock: Callable[[], float] = time.time, max_sessions: int = MAX_SESSIONS
    ):
        self.lifetime, self.clock, self.max_sessions = lifetime_seconds, clock, max_sessions
        self._open: dict[bytes, Session] = {}  # in sign-in order, so the oldest is dropped first

    def __len__(self) -> int:
        return len(self._open)

    def open(self, token: str) -> str:
        """A new session for a token already authenticated; its id, for the cookie."""
        self._forget_expired()
        while len(self._open) >= self.max_sessions:
            del self._open[next(iter(self._open))]
        sid = secrets.token_urlsafe(32)
        self._open[_key(sid)] = Session(token, secrets.token_urlsafe(24), self.clock() + self.lifetime)
        return sid

    def get(self, sid: str) -> Session | None:
        """The live session with this id; None when unknown, closed or expired."""
        key = _key(sid)
        session = self._open.get(key)
        if session is not None and session.expires <= self.clock():
            del self._open[key]
            return None
        return session

    def close(self, sid: str) -> None:
        self._open.pop(_key(sid), None)

    def _forget_expired(self) -> None:
        now = self.clock()
        for key in [k for k, s in self._open.items() if s.expires <= now]:
            del self._open[key]


def _key(sid: str) -> bytes:
    return hashlib.sha256(sid.encode()).digest()


def forged(session: Session, headers: Mapping[str, str]) -> str | None:
    """Why a cookie-borne request that changes something may not come from the console's page, or None.
    SameSite=Strict already keeps the cookie off cross-site requests; this holds for browsers that
    ignore it and for sibling sites (another port on the same host is the same site)."""
    if headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return f"a {headers['Sec-Fetch-Site']!r:.40} request: the console acts only for its own page"
    sent = headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        return f"missing or wrong: send the session's csrf (from /api/snapshot) in {CSRF_HEADER}"
    return None
