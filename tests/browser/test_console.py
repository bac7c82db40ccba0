"""The dispatcher console in real headless Chromium (Debian's, through Playwright), served by a real
`redwall console` process reading the real broker and Postgres; actions go through a real worker."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from config.roster import ROLES
from schemas.display import (
    ALERT_KIND,
    ALERT_STATUS,
    APPEAL_TYPE,
    CATEGORY,
    CHANNEL,
    CLOCK,
    INCIDENT_STATUS,
    LEVEL,
    ORDER_EVENT,
    PATROL_STATUS,
    PLACED,
    RATE,
    ROLE,
    SATISFACTION_ZH,
    SEVERITY,
    TASK_DEADLINE,
    TASK_KIND,
    TASK_STATUS,
    URGENCY,
    names,
)
from sinks.credentials import issue_dispatcher_token, revoke
from tests.browser.conftest import C01, RUN, STREET, close, open_console, publish
from tests.support.factories import alert
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

HOTLINE_NAMES = (CHANNEL, APPEAL_TYPE, URGENCY, ORDER_EVENT, SATISFACTION_ZH, PLACED, CLOCK, RATE)  # 12345 orders

STATIC = Path(__file__).resolve().parents[2] / "consumers" / "console" / "static"


async def test_the_console_loads_and_draws_the_71_grids(stack, browser):
    page = await open_console(browser, stack.settings, stack.tokens["street"])
    assert await page.locator("#areas path.grid").count() == 71
    assert await page.locator("#areas path.community").count() == 13
    assert await page.locator("#community option").count() == 14  # "all" and the 13 communities
    role = await page.inner_text("#role")
    assert ROLE["street"] in role and STREET in role
    await page.wait_for_selector("#link.live", timeout=5_000)
    await close(page)


async def test_metrics_need_no_token_and_count_live_clients(stack, browser):
    page = await open_console(browser, stack.settings, stack.tokens["street"])
    await page.wait_for_selector("#link.live", timeout=5_000)
    async with aiohttp.ClientSession() as http, http.get(f"{stack.base}/metrics") as answer:
        assert answer.status == 200
        text = await answer.text()
    clients = [line for line in text.splitlines() if line.startswith("redwall_console_clients ")]
    assert clients and float(clients[0].split()[1]) >= 1
    await close(page)


async def test_a_wrong_token_is_refused_and_a_read_token_may_only_look(stack, browser):
    context = await browser.new_context()
    page = await context.new_page()
    response = await page.goto(f"{stack.base}/?token=wrong")
    assert response.status == 401 and "unknown token" in await page.inner_text("h1")
    assert "token" not in page.url  # even a wrong one leaves the address bar
    await context.close()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.base}/api/snapshot", headers={"Authorization": "Bearer wrong"}) as answer:
            assert answer.status == 401
        async with http.get(f"{stack.base}/api/events?token={stack.tokens['street']}") as answer:
            assert answer.status == 401  # a token in an API URL is not taken: cookie or Authorization only
        async with http.post(
            f"{stack.base}/api/incidents/inc-c01-000000000000/actions",
            json={"action": "ack"},
            headers={"Authorization": f"Bearer {stack.tokens['read']}"},
        ) as answer:
            assert answer.status == 403
    async with aiohttp.ClientSession() as http, http.get(f"{stack.base}/metrics") as answer:
        text = await answer.text()
    assert 'redwall_console_auth_refused_total{reason="auth_unknown"}' in text
    assert 'redwall_console_auth_refused_total{reason="auth_missing"}' in text
    page = await open_console(browser, stack.settings, stack.tokens["read"])
    assert ROLE["read"] in await page.inner_text("#role")
    await close(page)


async def test_an_alert_appears_within_two_seconds_in_chinese_and_street_time(stack, browser):
    # The browser runs in New York; the street reads Beijing time (REDWALL_TIMEZONE), to the minute.
    page = await open_console(browser, stack.settings, stack.tokens["street"], timezone_id="America/New_York")
    await page.wait_for_selector("#link.live", timeout=5_000)
    when = datetime(2026, 12, 6, 6, 22, 41, tzinfo=UTC)  # 14:22 in Beijing, 01:22 in New York
    new = alert(
        f"console-{RUN}",
        event_time=when,
        kind="deadline_breached",
        level="street",
        title={"zh": "街道督办：安全隐患", "en": f"Escalated {RUN}"},
    )
    started = time.monotonic()
    await publish(stack.settings, stack.settings.topic_alerts, [new])
    row = page.locator(f"#feed li[data-id='{new['id']}']")
    await row.wait_for(timeout=2_000)
    print(f"\nalert on the console {time.monotonic() - started:.2f} s after it was published")
    text = await row.inner_text()
    assert "街道督办：安全隐患" in text and "2026-12-06 14:22" in text
    assert ALERT_KIND["deadline_breached"] in text and ALERT_STATUS["firing"] in text and LEVEL["street"] in text
    assert "deadline_breached" not in text and "01:22" not in text
    await close(page)


async def test_the_page_holds_no_table_of_names():
    """Every category, level, status, role and alert-kind name comes from /api/names (schemas/display.py)."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in STATIC.iterdir() if p.suffix in (".js", ".html"))
    defined = {
        zh
        for table in (
            CATEGORY,
            LEVEL,
            INCIDENT_STATUS,
            PATROL_STATUS,
            ALERT_KIND,
            ROLE,
            ROLES,
            SEVERITY,
            *HOTLINE_NAMES,
            TASK_KIND,
            TASK_STATUS,
            TASK_DEADLINE,
        )
        for zh in table.values()
    }
    # A name as a string literal, or as the words of an HTML element (a hand-written legend or label).
    literal = re.compile("|".join(rf"[\"'`]{re.escape(zh)}[\"'`]|>{re.escape(zh)}[ <]" for zh in defined))
    assert literal.findall(source) == []
    assert "LEVEL_ZH" not in source and "ROLE_ZH" not in source


async def test_names_and_time_zone_are_served(stack):
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {stack.tokens['read']}"}) as http:
        async with http.get(f"{stack.base}/api/names") as answer:
            assert answer.status == 200
            served = await answer.json()
    assert served == {"names": {**names(), "worker_role": ROLES}, "timezone": stack.settings.timezone}


async def test_a_community_dispatcher_acts_only_on_its_own_community(stack, browser, pg):
    page = await open_console(browser, stack.settings, stack.tokens["community"])
    role = await page.inner_text("#role")
    assert ROLE["community"] in role and C01 in role
    assert await page.input_value("#community") == "c01"  # it starts on its own community
    await close(page)
    headers = {"Authorization": f"Bearer {stack.tokens['community']}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(
            f"{stack.base}/api/incidents/inc-c02-00000000c02c/actions", json={"action": "ack"}
        ) as answer:
            assert answer.status == 403
            refused = await answer.json()
        # On its own community the console passes the action on, with the dispatcher's own token: the
        # engine's verdict comes back (nobody knows this incident), recorded with the dispatcher as actor.
        async with http.post(
            f"{stack.base}/api/incidents/inc-c01-00000000c01c/actions", json={"action": "ack"}
        ) as answer:
            assert answer.status == 404, await answer.text()
            assert (await answer.json())["errors"][0]["field"] == "incident"
    actor = await eventually(
        lambda: pg.fetchval(
            "SELECT actor FROM incident_events WHERE incident_id = 'inc-c01-00000000c01c' AND actor = $1", C01
        ),
        15,
    )
    assert actor == C01
    assert "c01" in refused["error"] and "c02" in refused["error"]
    await asyncio.sleep(0.2)
    assert (
        f"action refused: dispatcher={C01} role=community incident=inc-c02-00000000c02c"
        in stack.procs["console"].log_path.read_text()
    )
    async with aiohttp.ClientSession() as http, http.get(f"{stack.base}/metrics") as answer:
        assert 'redwall_console_actions_refused_total{role="community"} 1.0' in await answer.text()


async def test_the_action_proxy_names_every_wrong_field(stack):
    headers = {"Authorization": f"Bearer {stack.tokens['street']}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(
            f"{stack.base}/api/incidents/inc-c01-00000000c01c/actions", json={"action": "reassign", "reason": 7}
        ) as answer:
            assert answer.status == 422
            errors = (await answer.json())["errors"]
    assert sorted(e["field"] for e in errors) == ["owner", "reason"]


async def test_a_revoked_dispatcher_is_refused_by_the_running_console(stack, settings):
    name = f"console-{RUN}-leaver"
    token = await issue_dispatcher_token(settings.database_url, name, "street")
    snapshot = f"{stack.base}/api/snapshot"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.get(snapshot) as answer:
            assert answer.status == 200
        feed = await http.get(snapshot.replace("snapshot", "events"))  # a live feed open before the revocation
        assert await feed.content.readline() == b"event: hello\n"
        await revoke(settings.database_url, "dispatcher", name)
        started = time.monotonic()
        while True:
            async with http.get(snapshot) as answer:
                if answer.status == 401:
                    assert "revoked" in (await answer.json())["error"]
                    break
            assert time.monotonic() - started < 5
        refused = time.monotonic() - started
        await asyncio.wait_for(feed.content.read(), 5)  # the open feed ends too
        ended = time.monotonic() - started
        feed.release()
    print(f"\ndispatcher revoked -> console refuses: {refused * 1000:.0f} ms; its open live feed ends: {ended:.1f} s")
