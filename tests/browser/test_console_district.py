"""The console's page in a district of two streets (tests/support/two_streets.py), on a console of its own fed by
incident events on its own topics: a street's dispatcher lists its street's incidents only, and the district's
dispatcher (区级调度) is offered the actions on any street's incident, as a street's dispatcher is on its own."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sinks.credentials import issue_dispatcher_token
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics
from tests.browser.conftest import close, console_settings, open_console, open_detail, publish
from tests.support.topics import own_topics
from tests.support.two_streets import DISTRICT, EAST, WEST, two_streets

RUN = uuid.uuid4().hex[:8]
INCIDENTS = {EAST: f"inc-c01-{RUN}0000", WEST: f"inc-c08-{RUN}0000"}


def opened(incident: str, street: str, now: datetime) -> dict:
    """An `opened` event as the escalation engine publishes it, at the community's level."""
    community = incident.split("-")[1]
    state = {
        "status": "assigned",
        "level": "community",
        "owner": community,
        "priority": "normal",
        "opened_at": now.isoformat(),
        "ack_by": (now + timedelta(hours=1)).isoformat(),
        "resolve_by": (now + timedelta(hours=8)).isoformat(),
        "reports": 1,
    }
    return {
        **{"id": f"{incident}:00001", "incident": incident, "seq": 1, "kind": "opened", "when": now.isoformat()},
        **{"actor": "system", "reason": "district page", "reason_code": "report", "street": street},
        **{"community": community, "category": "sanitation", "severity": "low", "ceiling": "no", "state": state},
    }


@pytest.fixture(scope="module")
async def district_console(settings, tmp_path_factory):
    logs = tmp_path_factory.mktemp("district-console")
    mine = console_settings(dataclasses.replace(settings, geometry_path=two_streets(logs)), **own_topics(settings, RUN))
    await ensure_topics(mine, (mine.topic_incidents, mine.topic_patrol, mine.topic_alerts))
    now = datetime.now(UTC)
    events = [opened(incident, street, now) for street, incident in INCIDENTS.items()]
    await publish(mine, mine.topic_incidents, events, key=lambda e: e["community"].encode())
    proc = RedwallProcess("console", mine, logs).start()
    try:
        proc.wait_http(f"http://127.0.0.1:{mine.console_port}/static/console.css")
        yield mine
    finally:
        proc.stop()


async def test_a_streets_page_lists_its_street_and_the_districts_acts_on_every_street(district_console, browser):
    db = district_console.database_url
    east = await issue_dispatcher_token(db, f"page-{RUN}-east", "street", street=EAST)
    district = await issue_dispatcher_token(db, f"page-{RUN}-district", "district")
    page = await open_console(browser, district_console, east)
    await page.wait_for_selector(f"#incidents li[data-incident='{INCIDENTS[EAST]}']", timeout=15_000)
    assert await page.locator(f"#incidents li[data-incident='{INCIDENTS[WEST]}']").count() == 0
    await close(page)
    page = await open_console(browser, district_console, district)
    for incident in INCIDENTS.values():
        await open_detail(page, incident)
        await page.wait_for_selector(f"#detail[data-incident='{incident}'] button[data-action='ack']", timeout=10_000)
    await close(page)


async def test_the_districts_page_picks_the_district_or_a_street_of_the_weekly_reports_and_a_streets_page_has_none(
    district_console, browser
):
    db = district_console.database_url
    district = await issue_dispatcher_token(db, f"page-{RUN}-reports-district", "district")
    page = await open_console(browser, district_console, district)
    groups = page.locator("#community optgroup")  # the communities under their streets
    assert await groups.count() == 2 and await groups.nth(1).locator("option").count() >= 1
    await page.click("#reports-toggle")
    picker = page.locator("#reports-street")
    await picker.wait_for(state="visible", timeout=10_000)
    # 全区 first and chosen: the district's own report, then each street's
    assert await picker.locator("option").count() == 3
    assert (await picker.input_value(), await picker.locator("option").first.text_content()) == (
        DISTRICT,
        "全区（西城区（示意））",
    )
    await picker.select_option(WEST)
    await page.wait_for_function(f"document.querySelector('#reports-street').value === '{WEST}'")
    await close(page)
    east = await issue_dispatcher_token(db, f"page-{RUN}-reports-east", "street", street=EAST)
    page = await open_console(browser, district_console, east)
    await page.click("#reports-toggle")
    await page.wait_for_selector("#reports-count:not(:empty)", timeout=10_000)
    assert await page.locator("#reports-street").is_hidden()
    assert await page.locator("#community optgroup").count() == 0  # its own street's communities, ungrouped
    await close(page)
