"""The console's part of working-time deadlines over real HTTP: the working hours it gives the page agree
with the WorkingCalendar the engine counts on (a stretch over a weekend), the snapshot names the actions the
dispatcher's role may take ([actions.roles]), and the action proxy refuses a request answered by a role
that may not, and an action without the field it needs, naming the field."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from config.calendar import load_calendar
from consumers.console.worktime import working_intervals
from schemas.records import ACTIONS
from sinks.credentials import issue_dispatcher_token

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]


def counted_ms(intervals: list[list[int]], lo: datetime, hi: datetime) -> int:
    a, b = lo.timestamp() * 1000, hi.timestamp() * 1000
    return sum(max(0, min(y, b) - max(x, a)) for x, y in intervals)


async def get(console: str, token: str, path: str):
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.get(console + path) as answer:
            return answer.status, await answer.json()


def test_the_working_hours_agree_with_the_calendar_over_weekends_holidays_and_make_up_days(settings):
    cal = load_calendar(settings.calendar_path, settings.holidays_path, settings.timezone, cover_check=False)
    tz = ZoneInfo(settings.timezone)
    first = datetime(2026, 9, 20, tzinfo=tz).date()  # over National Day 2026 and its 调休 Saturday
    intervals = working_intervals(cal, first, 40)
    start = datetime(2026, 9, 25, 16, 0, tzinfo=tz)  # a Friday afternoon
    for hours in (1, 3, 50, 24 * 9, 24 * 20):
        end = start + timedelta(hours=hours)
        expected = cal.counted(start, end, True).total_seconds() * 1000
        assert counted_ms(intervals, start, end) == expected, (start, end)
    # Left running into a year nobody added, the console serves the days it knows instead of failing.
    edge = working_intervals(cal, datetime(2027, 12, 30, tzinfo=tz).date(), 5)
    assert len(edge) == 2 and edge[-1][1] == datetime(2027, 12, 31, 17, 0, tzinfo=tz).timestamp() * 1000


async def test_the_page_gets_the_calendar_and_the_actions_its_role_may_take(console, settings):
    street = await issue_dispatcher_token(settings.database_url, f"clk-{RUN}-street", "street")
    community = await issue_dispatcher_token(settings.database_url, f"clk-{RUN}-c01", "community", "c01")
    status, body = await get(console, street, "/api/calendar")
    assert status == 200 and body["day"] == 8 * 3600 and body["from"] < body["intervals"][0][0]
    cal = load_calendar(settings.calendar_path, settings.holidays_path, settings.timezone)
    today = datetime.now(cal.tz).date()
    assert body["intervals"] == working_intervals(cal, today - timedelta(days=30), 91)
    # The defaults of [actions.roles]: answering a request is the street's, every other action both roles'.
    for token, expected in ((street, ACTIONS), (community, [a for a in ACTIONS if a not in ("approve", "deny")])):
        status, snapshot = await get(console, token, "/api/snapshot")
        assert snapshot["actions"] == list(expected)


async def test_the_proxy_refuses_what_the_role_may_not_and_names_a_missing_field(console, settings):
    community = await issue_dispatcher_token(settings.database_url, f"clk-{RUN}-c01b", "community", "c01")
    url = f"{console}/api/incidents/inc-c01-00000000c1c0/actions"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {community}"}) as http:
        async with http.post(url, json={"action": "approve", "request": "act-1"}) as answer:
            assert answer.status == 403
            assert "approve" in (await answer.json())["errors"][0]["reason"]
        for body, field in [
            ({"action": "pause"}, "pause_reason"),
            ({"action": "pause", "pause_reason": "bored"}, "pause_reason"),
            ({"action": "extend", "limit": "3 weeks"}, "limit"),
            ({"action": "return", "unit": " "}, "unit"),
            ({"action": "deny", "request": "no spaces"}, "request"),
            ({"action": "resume", "limit": "3wd"}, "limit"),
        ]:
            async with http.post(url, json=body) as answer:
                assert answer.status == 422, body
                assert [e["field"] for e in (await answer.json())["errors"]] == [field], body
