"""Console sessions (consumers/console/sessions.py) on an injected clock: they expire, close, stay bounded, and
a cookie-borne change must carry the session's CSRF token from the console's own origin."""

from __future__ import annotations

from consumers.console.sessions import CSRF_HEADER, Sessions, forged


class Clock:
    def __init__(self):
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_lasts_its_lifetime_and_no_longer():
    clock = Clock()
    sessions = Sessions(3600, clock)
    sid = sessions.open("token-a")
    clock.now += 3599
    assert sessions.get(sid).token == "token-a"
    clock.now += 1
    assert sessions.get(sid) is None and len(sessions) == 0


def test_sign_out_closes_only_that_session_and_ids_are_not_guessable():
    sessions = Sessions(3600, Clock())
    first, second = sessions.open("token-a"), sessions.open("token-a")
    assert first != second and len(first) >= 40
    sessions.close(first)
    assert sessions.get(first) is None and sessions.get(second) is not None
    assert sessions.get("made-up") is None


def test_the_store_stays_bounded_dropping_the_oldest_first():
    clock = Clock()
    sessions = Sessions(3600, clock, max_sessions=3)
    ids = [sessions.open(f"token-{i}") for i in range(5)]
    assert len(sessions) == 3
    assert [sessions.get(sid) is not None for sid in ids] == [False, False, True, True, True]
    clock.now += 3600  # expired sessions make room before anything live is dropped
    sessions.open("token-late")
    assert len(sessions) == 1


def test_a_change_needs_the_sessions_csrf_token_from_the_same_origin():
    sessions = Sessions(3600, Clock())
    session = sessions.get(sessions.open("token-a"))
    assert forged(session, {CSRF_HEADER: session.csrf, "Sec-Fetch-Site": "same-origin"}) is None
    assert forged(session, {CSRF_HEADER: session.csrf}) is None  # a browser too old to send Sec-Fetch-Site
    assert CSRF_HEADER in forged(session, {})
    assert CSRF_HEADER in forged(session, {CSRF_HEADER: "guess"})
    # Another port on the same host is the same *site*: SameSite=Strict sends the cookie, the token is what stops it.
    assert "same-site" in forged(session, {CSRF_HEADER: session.csrf, "Sec-Fetch-Site": "same-site"})
    assert "cross-site" in forged(session, {CSRF_HEADER: session.csrf, "Sec-Fetch-Site": "cross-site"})
