"""Signing in to the console: the link the demo prints and the form both exchange the token for an HttpOnly,
SameSite=Strict, expiring session cookie and leave the address bar at once; the live feed works with the
cookie; changes need the session's CSRF token; the pages forbid inline script and framing; sign-out and
revocation end the session; and no token reaches any log the processes write."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import jsonschema
import pytest

from consumers.console.auth import PUBLIC
from consumers.console.sessions import COOKIE, CSRF_HEADER
from schemas.display import ROLE
from schemas.openapi import ERROR
from sinks.credentials import issue_dispatcher_token, revoke
from tests.browser.conftest import RUN, close, open_console, sign_in_link, watch_errors
from tests.support.console_routes import DOCUMENTED

pytestmark = pytest.mark.integration


def cookie_jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)  # the console is on 127.0.0.1: an IP address, which aiohttp skips by default


async def signed_in(http: aiohttp.ClientSession, stack, token: str) -> str:
    """Signs `http` in by the link; the session's CSRF token."""
    async with http.get(sign_in_link(stack.settings, token)) as answer:
        assert answer.status == 200 and answer.url.path == "/" and not answer.url.query
    async with http.get(f"{stack.base}/api/snapshot") as answer:
        assert answer.status == 200
        return (await answer.json())["csrf"]


async def refusals(stack) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(f"{stack.base}/metrics") as answer:
        text = await answer.text()
    prefix = 'redwall_console_auth_refused_total{reason="'
    return {
        line[len(prefix) : line.index('"', len(prefix))]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix)
    }


async def test_the_sign_in_link_sets_a_session_cookie_and_leaves_the_address_bar(stack, browser):
    requests: list[str] = []
    context = await browser.new_context()
    context.on("request", lambda r: requests.append(r.url))
    page = await context.new_page()
    watch_errors(page)
    token = stack.tokens["street"]
    response = await page.goto(sign_in_link(stack.settings, token))
    await page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    await page.wait_for_selector("#link.live", timeout=5_000)  # the live feed, on the cookie alone
    assert page.url == f"{stack.base}/"
    assert response.request.redirected_from.url == sign_in_link(stack.settings, token)  # a 303, before any page
    [cookie] = await context.cookies()
    assert cookie["name"] == COOKIE and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    hours = (cookie["expires"] - time.time()) / 3600
    assert stack.settings.console_session_hours - 0.1 < hours <= stack.settings.console_session_hours
    assert await page.evaluate("document.cookie") == ""  # no script can read it
    assert [url for url in requests if token in url] == [sign_in_link(stack.settings, token)]
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY"
    await close(page)


async def test_the_page_runs_no_inline_script_and_cannot_be_framed(stack, browser):
    page = await open_console(browser, stack.settings, stack.tokens["read"])
    await page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.injected = 1'; document.body.appendChild(s); }""")
    assert await page.evaluate("() => window.injected") is None
    assert any("Content Security Policy" in e for e in page.errors)
    page.errors.clear()  # the refusal was the point
    await close(page)
    page = await open_console(browser, stack.settings, stack.tokens["read"])
    framing = await page.context.new_page()
    await framing.set_content(f'<iframe src="{stack.base}/" width="800" height="600"></iframe>')
    await asyncio.sleep(1.0)
    # Refused by the browser: the frame shows its error page, not the console (nor its sign-in form).
    assert len(framing.frames) == 2 and not framing.frames[1].url.startswith(stack.base)
    await close(page)


async def test_the_sign_in_form_and_sign_out(stack, browser):
    context = await browser.new_context()
    page = await context.new_page()
    watch_errors(page)
    await page.goto(f"{stack.base}/")
    assert page.url == f"{stack.base}/signin"  # no session: to the form, no refusal counted
    await page.fill("input[name='token']", stack.tokens["community"])
    await page.click("button[type='submit']")
    await page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    assert page.url == f"{stack.base}/" and ROLE["community"] in await page.inner_text("#role")
    [cookie] = await context.cookies()
    await page.click("#signout")
    await page.wait_for_url(f"{stack.base}/signin")
    assert await context.cookies() == []
    # The session is closed on the console, not only forgotten by this browser.
    async with aiohttp.ClientSession(cookies={COOKIE: cookie["value"]}) as http:
        async with http.get(f"{stack.base}/api/snapshot") as answer:
            assert answer.status == 401 and answer.headers["Content-Type"].startswith("application/json")
            assert "signed out" in (await answer.json())["error"]
    await close(page)


async def test_a_cookie_borne_change_needs_the_sessions_csrf_token(stack, browser):
    action = f"{stack.base}/api/incidents/inc-c01-00000000c5f0/actions"
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        csrf = await signed_in(http, stack, stack.tokens["street"])
        async with http.post(action, json={"action": "ack"}) as answer:
            assert answer.status == 403 and (await answer.json())["errors"][0]["field"] == CSRF_HEADER
        async with http.post(
            action, json={"action": "ack"}, headers={CSRF_HEADER: csrf, "Sec-Fetch-Site": "same-site"}
        ) as answer:
            assert answer.status == 403
        async with http.post(action, json={"action": "ack"}, headers={CSRF_HEADER: csrf}) as answer:
            assert answer.status == 404, await answer.text()  # on to the worker, whose engine knows no such incident
    # A page of a sibling site (the worker's port on the same host) gets the cookie sent, but not the token.
    page = await open_console(browser, stack.settings, stack.tokens["street"])
    before = (await refusals(stack)).get("csrf", 0)
    sibling = await page.context.new_page()
    await sibling.goto(f"http://{stack.settings.web_host}:{stack.settings.web_port}/openapi.json")
    await sibling.evaluate(
        """url => fetch(url, {method: 'POST', mode: 'no-cors', credentials: 'include',
        body: JSON.stringify({action: 'resolve'})})""",
        action,
    )
    assert (await refusals(stack)).get("csrf", 0) == before + 1
    await close(page)


async def test_every_api_refusal_answers_the_documented_body(stack):
    """Signed out, an incident nobody knows, a malformed action, a body that is not JSON: the console answers
    each with the OpenAPI document's Error body, as the worker does (streams/http/refusal.py)."""
    incident = f"{stack.base}/api/incidents/inc-c01-00000000404f"
    bearer = {"Authorization": f"Bearer {stack.tokens['street']}"}
    requests = {
        401: ("GET", f"{stack.base}/api/snapshot", {}, None),
        404: ("GET", incident, bearer, None),
        422: ("POST", f"{incident}/actions", bearer, b'{"action": "dance"}'),
        400: ("POST", f"{incident}/actions", bearer, b"not json"),
    }
    async with aiohttp.ClientSession() as http:
        for status, (method, url, headers, body) in requests.items():
            headers = {**headers, "Content-Type": "application/json"}
            async with http.request(method, url, headers=headers, data=body) as answer:
                assert answer.status == status and answer.content_type == "application/json", (status, answer.status)
                refused = await answer.json()
            jsonschema.validate(refused, ERROR)
            assert (
                refused["errors"][0]["field"]
                == {401: "Authorization", 404: "incident", 422: "action", 400: "(body)"}[status]
            ), refused


async def test_every_route_needs_a_dispatcher_but_sign_in_static_files_favicon_health_and_metrics(stack):
    before = sum((await refusals(stack)).values())
    async with aiohttp.ClientSession() as http:
        for public in (*PUBLIC, "/static/console.css", "/static/console.js"):
            async with http.get(f"{stack.base}{public}") as answer:
                assert answer.status == 200, public
        assert sum((await refusals(stack)).values()) == before  # nothing refused, nothing counted
        guarded = [
            (m, p.replace("{incident}", "inc-c01-00000000abcd")) for m, p in DOCUMENTED if p not in (*PUBLIC, "/static")
        ]
        for method, path in guarded:
            async with http.request(method, f"{stack.base}{path}", allow_redirects=False) as answer:
                assert answer.status == (303 if path == "/" else 401), (method, path, answer.status)
    assert sum((await refusals(stack)).values()) == before + len(guarded) - 1  # "/" sends a browser to the form


async def test_a_revoked_dispatchers_session_is_refused_at_once_and_its_feed_ends(stack, settings):
    name = f"console-{RUN}-cookie-leaver"
    token = await issue_dispatcher_token(settings.database_url, name, "street")
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        await signed_in(http, stack, token)
        feed = await http.get(f"{stack.base}/api/events")  # a live feed open before the revocation
        assert await feed.content.readline() == b"event: hello\n"
        await revoke(settings.database_url, "dispatcher", name)
        started = time.monotonic()
        while True:
            async with http.get(f"{stack.base}/api/snapshot") as answer:
                if answer.status == 401:
                    assert "revoked" in (await answer.json())["error"]
                    break
            assert time.monotonic() - started < 5
        refused = time.monotonic() - started
        await asyncio.wait_for(feed.content.read(), 5)
        ended = time.monotonic() - started
        feed.release()
        async with http.get(f"{stack.base}/api/snapshot") as answer:
            assert "session expired or signed out" in (await answer.json())["error"]  # the session is gone for good
    print(
        f"\nsigned-in dispatcher revoked -> console refuses: {refused * 1000:.0f} ms; its open feed ends: {ended:.1f} s"
    )


async def test_sign_out_ends_the_sessions_open_feed(stack):
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        csrf = await signed_in(http, stack, stack.tokens["read"])
        feed = await http.get(f"{stack.base}/api/events")
        assert await feed.content.readline() == b"event: hello\n"
        async with http.post(f"{stack.base}/signout", headers={CSRF_HEADER: csrf}) as answer:
            assert answer.status == 204
        started = time.monotonic()
        await asyncio.wait_for(feed.content.read(), 5)
        ended = time.monotonic() - started
        feed.release()
        async with http.get(f"{stack.base}/api/snapshot") as answer:
            assert answer.status == 401
    print(f"\nsigned out -> its open feed ends: {ended:.1f} s")


async def test_a_page_whose_dispatcher_is_revoked_goes_to_the_sign_in_form(stack, browser, settings):
    name = f"console-{RUN}-page-leaver"
    token = await issue_dispatcher_token(settings.database_url, name, "read")
    page = await open_console(browser, stack.settings, token)
    await page.wait_for_selector("#link.live", timeout=5_000)
    await revoke(settings.database_url, "dispatcher", name)
    await page.wait_for_url(f"{stack.base}/signin", timeout=15_000)
    await close(page)


async def server_logs(pg) -> list[Path]:
    """PostgreSQL's own log (the embedded server's `pgdata/log`, or files under its log_directory)."""
    data = Path(await pg.fetchval("SELECT current_setting('data_directory')"))
    directory = data / await pg.fetchval("SELECT current_setting('log_directory')")
    found = [data / "log"] if (data / "log").is_file() else []
    return found + (sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else [])


async def test_no_token_reaches_any_log(stack, browser, broker, settings, pg):
    """Tokens used every way a browser or an API client uses them; then every log is searched for them."""
    db = settings.database_url
    tokens = {
        role: await issue_dispatcher_token(
            db, f"console-{RUN}-logs-{role}", role, "c01" if role == "community" else None
        )
        for role in ("street", "community", "read")
    }
    page = await open_console(browser, stack.settings, tokens["street"])  # the link
    await page.wait_for_selector("#link.live", timeout=5_000)
    if await page.locator("#incidents li").count():
        await page.locator("#incidents li").first.click()  # an incident's detail
    await close(page)
    context = await browser.new_context()
    form = await context.new_page()
    await form.goto(f"{stack.base}/signin")
    await form.fill("input[name='token']", tokens["community"])
    await form.click("button[type='submit']")
    await form.wait_for_selector("body[data-ready='1']", timeout=15_000)
    await form.click("#signout")
    await form.wait_for_url(f"{stack.base}/signin")
    await context.close()
    action = f"{stack.base}/api/incidents/inc-c01-00000000109c/actions"
    bearer = {"Authorization": f"Bearer {tokens['read']}"}
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as http:
        csrf = await signed_in(http, stack, tokens["street"])
        async with http.post(action, json={"action": "ack"}, headers={CSRF_HEADER: csrf}) as answer:
            assert answer.status == 404
        async with http.get(
            f"{stack.base}/api/snapshot?token={tokens['street']}",
            headers={"Referer": sign_in_link(stack.settings, tokens["street"])},
        ) as answer:
            assert answer.status == 200
    async with aiohttp.ClientSession(headers=bearer) as http:
        for path in ("/api/snapshot", "/api/names", "/api/incidents/inc-c01-00000000109c"):
            async with http.get(f"{stack.base}{path}") as answer:
                assert answer.status in (200, 404)
        async with http.post(action, json={"action": "ack"}) as answer:
            assert answer.status == 403  # read-only
        async with http.get(
            f"{stack.base}/api/events?token={tokens['read']}", headers={"Authorization": "Bearer wrong"}
        ) as answer:
            assert answer.status == 401
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {tokens['street']}"}) as http:
        async with http.post(
            f"http://{stack.settings.web_host}:{stack.settings.web_port}/v1/incidents/inc-c01-00000000109c/actions",
            json={"action": "ack", "reason": "straight to the worker"},
        ):
            pass
    await asyncio.sleep(1.0)  # the last lines reach the files
    logs = sorted(p for p in stack.log_dir.rglob("*") if p.is_file()) + [broker.log_path] + await server_logs(pg)
    console = stack.procs["console"].log_path.read_text()
    assert "GET /api/snapshot 200" in console and "POST /signin 303" in console  # the access log is on
    leaks = [
        (path.name, role)
        for path in logs
        for role, token in tokens.items()
        if token in path.read_text(errors="replace")
    ]
    print(
        f"\nsearched {len(logs)} logs ({sum(p.stat().st_size for p in logs) / 1024:.0f} KiB) for "
        f"{len(tokens)} tokens at {datetime.now(UTC):%H:%M:%S}"
    )
    assert leaks == []
