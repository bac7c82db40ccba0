"""Who is asking the console: sign-in (the `/?token=` link the demo prints, or a form for a pasted token)
turns a dispatcher's token into a session cookie and leaves the address bar at once; every other request
carries that cookie or `Authorization: Bearer` (API clients). Also the headers every answer carries: a
Content-Security-Policy without inline script or framing, and no Referer sent anywhere."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import Counter

from consumers.console.sessions import COOKIE, CSRF_HEADER, Session, Sessions, forged
from streams.credentials import CredentialCache
from streams.http.auth import AUTH_FIELD, Unauthorized, authenticate, bearer_token
from streams.http.refusal import refusal_response

PUBLIC = ("/metrics", "/healthz", "/favicon.ico", "/signin")  # and /static/: no data, no credential, no refusal counted
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_DEAD = ("auth_unknown", "auth_revoked", "auth_kind")  # a session whose token is refused so is closed for good
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ConsoleAuth:
    """Sets request["dispatcher"] (the credential), ["token"] (its token, for the worker) and ["session"]
    (the session id, None for a Bearer request); refusals are counted by reason in `refused`."""

    def __init__(self, credentials: CredentialCache, sessions: Sessions, refused: Counter):
        self.credentials, self.sessions, self.refused = credentials, sessions, refused

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/static/") or request.path in PUBLIC:
            return await handler(request)
        if request.path == "/" and request.method == "GET" and "token" in request.query:
            return await self.sign_in(request, request.query["token"])  # the link: a cookie, then away from the URL
        try:
            request["dispatcher"], request["token"], request["session"] = await self.identify(request)
        except Unauthorized as refused:
            if request.path == "/" and refused.labels == ["auth_missing"]:
                raise web.HTTPSeeOther("/signin") from None  # a fresh browser: nothing refused yet
            return self.refuse(request, refused)
        return await handler(request)

    async def identify(self, request: web.Request) -> tuple:
        if AUTH_FIELD in request.headers:
            return (
                await authenticate(self.credentials, "dispatcher", request.headers),
                bearer_token(request.headers),
                None,
            )
        sid = request.cookies.get(COOKIE, "")
        session = self.sessions.get(sid) if sid else None
        if session is None:
            if not sid:
                raise Unauthorized(
                    401,
                    AUTH_FIELD,
                    "missing: sign in at /signin, or send 'Authorization: Bearer <dispatcher token>'",
                    "auth_missing",
                )
            raise Unauthorized(
                401, COOKIE, "session expired or signed out: sign in again at /signin", "session_unknown"
            )
        who = await self.check(session.token, sid)
        if request.method not in ("GET", "HEAD"):
            self.refuse_forged(session, request)
        return who, session.token, sid

    async def check(self, token: str, sid: str | None = None):
        """The live dispatcher credential of a token; a session on a dead one is closed."""
        try:
            return await authenticate(self.credentials, "dispatcher", {AUTH_FIELD: f"Bearer {token}"})
        except Unauthorized as refused:
            if sid and refused.labels[0] in _DEAD:
                self.sessions.close(sid)
            raise

    @staticmethod
    def refuse_forged(session: Session, request: web.Request) -> None:
        why = forged(session, request.headers)
        if why:
            raise Unauthorized(403, CSRF_HEADER, why, "csrf")

    def still_allowed(self, request: web.Request) -> bool:
        """For an open live feed: the token still live and, for a cookie, the session still open (memory only)."""
        sid = request["session"]
        return self.credentials.holds(request["token"]) and (sid is None or self.sessions.get(sid) is not None)

    def refuse(self, request: web.Request, refused: Unauthorized) -> web.Response:
        self.refused.labels(refused.labels[0]).inc()
        reason = refused.errors[0].reason
        if request.path.startswith("/api/") or request.path == "/signout":
            # The console names the reason itself as `error`, where the worker puts a title.
            return refusal_response(refused.status, reason, refused.errors, refused.headers)
        return signin_page(refused.status, reason, refused.headers)

    async def sign_in(self, request: web.Request, token: str) -> web.Response:
        try:
            await self.check(token)
        except Unauthorized as refused:
            return self.refuse(request, refused)
        answer = web.Response(status=303, headers={"Location": "/", "Cache-Control": "no-store"})
        # Secure only over TLS: the demo serves plain HTTP on loopback, where a Secure cookie is never sent back.
        answer.set_cookie(
            COOKIE,
            self.sessions.open(token),
            path="/",
            httponly=True,
            samesite="Strict",
            max_age=int(self.sessions.lifetime),
            secure=request.secure,
        )
        return answer

    async def signin_form(self, request: web.Request) -> web.Response:
        return signin_page(200, None)

    async def signin_post(self, request: web.Request) -> web.Response:
        site = request.headers.get("Sec-Fetch-Site", "same-origin")
        if site not in ("same-origin", "none"):  # someone else's page must not sign this browser in
            return self.refuse(
                request, Unauthorized(403, "token", f"a {site!r:.40} sign-in: use the console's own form", "csrf")
            )
        form = await request.post()
        return await self.sign_in(request, str(form.get("token", "")).strip())

    async def signout(self, request: web.Request) -> web.Response:
        if request["session"]:
            self.sessions.close(request["session"])
        answer = web.Response(status=204)
        answer.del_cookie(COOKIE, path="/")
        return answer


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer, static files and refusals included. A view that set a stricter
    policy of its own keeps it (a weekly report: inline styles, no script)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def signin_page(status: int, reason: str | None, headers: dict | None = None) -> web.Response:
    """The sign-in form, with the reason of a refusal above it. signin.js takes any token out of the address bar."""
    heading = (
        f"登录失败 {status}: {html.escape(reason)}"
        if reason
        else "数字红墙 · 指挥调度台 <small>Redwall dispatcher console</small>"
    )
    return web.Response(
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", **(headers or {})},
        text=f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>登录 Sign in · 数字红墙</title>
<link rel="stylesheet" href="/static/console.css"><script src="/static/signin.js"></script></head>
<body class="signin"><h1>{heading}</h1>
<form method="post" action="/signin">
<label>调度员令牌 Dispatcher token <input name="token" type="password" autocomplete="off" required autofocus></label>
<button type="submit">登录 Sign in</button></form></body></html>""",
    )
