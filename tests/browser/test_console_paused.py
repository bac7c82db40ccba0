"""Paused cases and working time on the console, in Chromium against the real sink, console and worker: a
paused incident says so in the list and the detail (reason, since when, 待批准 or not counting), the time left
is in working time where the limit is and agrees with config/calendar.py (the page's own count, over a
weekend), a street dispatcher gets 批准 on a request and a community dispatcher does not, and an approve
goes through the console to the worker with its request."""

from __future__ import annotations

from contextlib import aclosing
from datetime import UTC, datetime, time, timedelta

import pytest

from config.calendar import load_calendar
from config.spans import parse_span
from schemas import json
from schemas.display import PAUSE_REASON
from schemas.records import IncidentEvent
from streams.topics import read_topic
from tests.browser.conftest import ARTIFACTS, C01, RUN, STREET, close, open_console, open_detail, publish
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

STOPPED, WAITING = f"inc-c01-{RUN}0000", f"inc-c01-{RUN}0001"
EXTENSION, PAUSE = f"act-x-{RUN}", f"act-q-{RUN}"


def work_span(seconds: float, day: float = 8 * 3600) -> str:
    """As static/worktime.js writes working time: 1工作日2工时, 3工时20分, 45分钟."""
    total, per_day = int(abs(seconds) // 60), round(day / 60)
    days, hours, minutes = total // per_day, total % per_day // 60, total % 60
    if days:
        return f"{days}工作日{hours}工时" if hours else f"{days}工作日"
    return f"{hours}工时{minutes:02d}分" if hours else f"{minutes}分钟"


def incident_event(incident: str, seq: int, kind: str, when: datetime, **state) -> dict:
    """An incident event as the engine publishes it, checked against the schema."""
    base = {
        "status": "assigned",
        "level": "community",
        "owner": "c01",
        "priority": "normal",
        "reports": 1,
        "last_report_at": state["opened_at"],
        "cluster_cell": "8c31aa4298d1bff",
        "flags": [],
        "rules": "0a1b2c3d4e5f",
        "clock": {"since": state["opened_at"], "factor": 1, "paused": []},
    }
    return IncidentEvent.validate(
        {
            "id": f"{incident}:{seq:05d}",
            "incident": incident,
            "seq": seq,
            "kind": kind,
            "when": when.isoformat(),
            "actor": C01,
            "reason": f"{kind} for the console's test",
            "reason_code": kind,
            "street": "xichangan",
            "community": "c01",
            "grid": "c01-g01",
            "category": "sanitation",
            "severity": "medium",
            "ceiling": "no",
            "state": base | state,
        }
    )


def paused_incidents(cal, now: datetime) -> tuple[list[dict], list]:
    """One paused with the street's approval (its clocks stand still, 1wd 2wh left of its resolve limit, an
    extension waiting), one paused without (its clocks stop until counts_until), and the latter's pauses."""
    opened, since = now - timedelta(hours=2), now - timedelta(minutes=10)
    stopped = incident_event(
        STOPPED,
        3,
        "approved",
        since,
        status="acknowledged",
        opened_at=opened.isoformat(),
        limits={"community": {"acknowledge": "1h", "resolve": "2wd"}},
        pause={"since": since.isoformat(), "reason": "resident", "action": f"act-p-{RUN}", "actor": C01}
        | {"approved_by": STREET},
        requests=[{"action": EXTENSION, "kind": "extend", "actor": C01, "at": since.isoformat(), "limit": "5wd"}],
        remaining={"resolve": 36000.0},
    )
    counts_until = cal.deadline(since, parse_span("2wh"))
    pauses = [(since, counts_until)]
    due = {k: cal.deadline(opened, parse_span(v), pauses) for k, v in (("ack_by", "4wh"), ("resolve_by", "2wd"))}
    waiting = incident_event(
        WAITING,
        2,
        "paused",
        since,
        opened_at=opened.isoformat(),
        limits={"community": {"acknowledge": "4wh", "resolve": "2wd"}},
        pause={"since": since.isoformat(), "reason": "department", "action": PAUSE, "actor": C01}
        | {"counts_until": counts_until.isoformat()},
        requests=[{"action": PAUSE, "kind": "pause", "actor": C01, "at": since.isoformat()}],
        **{k: v.isoformat() for k, v in due.items()},
    )
    return [stopped, waiting], pauses


async def action_sent(settings, request: str) -> dict | None:
    """The action on the actions topic that answers `request`, as the worker produced it. The topic is the
    session's: other tests put records on it that are no JSON at all (tests/hostile/: empty values,
    tombstones, stray bytes), which the worker sends to the dead letters and this skips. Read to its end
    (read_topic), not one fetch: after a busy session one fetch holds only the topic's first records."""
    async with aclosing(read_topic(settings, settings.topic_actions, idle_seconds=1.0)) as records:
        async for msg in records:
            try:
                action = json.loads(msg.value)
            except ValueError:  # orjson's JSONDecodeError, for b"", None and bytes that are not UTF-8 JSON
                continue
            if isinstance(action, dict) and action.get("request") == request:
                return action
    return None


async def test_a_paused_case_its_working_time_left_and_the_approval_of_a_request(stack, browser, pg):
    settings = stack.settings
    cal = load_calendar(settings.calendar_path, settings.holidays_path, settings.timezone)
    now = datetime.now(UTC)
    events, pauses = paused_incidents(cal, now)
    await publish(settings, settings.topic_incidents, events, key=lambda e: b"c01")
    assert await eventually(
        lambda: pg.fetchval("SELECT count(*) = 2 FROM incidents WHERE id IN ($1, $2)", STOPPED, WAITING), 30
    )

    page = await open_console(browser, settings, stack.tokens["street"])
    # The page counts working time as config/calendar.py does: from a Friday afternoon over the weekend.
    friday = (now.astimezone(cal.tz) - timedelta(days=7)).date()
    while friday.weekday() != 4:
        friday -= timedelta(days=1)
    lo = datetime.combine(friday, time(16), cal.tz)
    for hi in (lo + timedelta(days=3, hours=18), lo + timedelta(days=4, hours=1)):
        in_page = await page.evaluate(
            "async ([a, b]) => (await import('/static/worktime.js')).counted(a, b, true)",
            [lo.timestamp() * 1000, hi.timestamp() * 1000],
        )
        assert in_page == cal.counted(lo, hi, True).total_seconds() * 1000

    cost = await page.evaluate(
        """async () => { const w = await import('/static/worktime.js'), t = performance.now();
        for (let n = 0; n < 500; n++) w.counted(Date.now(), Date.now() + 5 * 86400e3, true);
        return performance.now() - t; }"""
    )
    print(f"500 counts of 5 days' working time in the page: {cost:.1f} ms")  # a list of 500 counts each once
    await page.fill("#search", f"inc-c01-{RUN}")
    stopped = page.locator(f"#incidents li[data-incident='{STOPPED}'][data-paused]")
    await stopped.wait_for(timeout=30_000)
    text = await stopped.inner_text()
    assert "挂起" in text and PAUSE_REASON["resident"] in text and "不计时" in text and "剩余 1工作日2工时" in text
    waiting = await page.locator(f"#incidents li[data-incident='{WAITING}']").inner_text()
    ack_by = datetime.fromisoformat(events[1]["state"]["ack_by"])
    left = {work_span(cal.counted(t, ack_by, True, pauses).total_seconds()) for t in (now, datetime.now(UTC))}
    assert "待批准" in waiting and PAUSE_REASON["department"] in waiting
    assert any(f"剩余 {x}" in waiting for x in left), (waiting, left)
    # Paused cases are not running: never overdue, listed after every running case.
    order = await page.eval_on_selector_all("#incidents li", "items => items.map(li => li.dataset.incident)")
    assert order.index(WAITING) < order.index(STOPPED)

    # A community dispatcher sees the request and may resume, not approve: looked at while the request waits,
    # for the street's approval below may be done (the request gone) or refused, as the engine finds the case.
    community = await open_console(browser, settings, stack.tokens["community"])
    await open_detail(community, STOPPED)
    await community.wait_for_selector(f"#detail li[data-request='{EXTENSION}']")
    assert await community.locator("#detail button[data-action='approve']").count() == 0
    assert await community.locator("#detail button[data-action='resume']").count() == 1
    await close(community)

    await open_detail(page, STOPPED)
    detail = page.locator("#detail")
    await page.wait_for_selector(f"#detail li[data-request='{EXTENSION}'] button[data-action='approve']")
    text = await detail.inner_text()
    assert "2工作日" in text and "剩余 1工作日2工时" in text and "5工作日" in text and "待批准" in text
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-paused.png"))
    await detail.locator(f"li[data-request='{EXTENSION}'] button[data-action='approve']").click()
    # The worker's answer, whatever the engine makes of it (it passed the console and the worker's checks).
    await page.wait_for_function(
        "() => /HTTP|已提交|已办理|被拒绝|不知道/.test(document.querySelector('#detail .verdict').innerText)",
        timeout=20_000,
    )
    print("verdict:", await page.inner_text("#detail .verdict"))
    sent = await eventually(lambda: action_sent(settings, EXTENSION), 20)
    assert sent and (sent["action"], sent["actor"], sent["incident"]) == ("approve", STREET, STOPPED)
    await close(page)
