"""The console's 12345 view in Chromium, on orders written into real PostgreSQL: the overdue order first and
marked 超时 with its limit in the street's time, the other clocks counting down, the link to the incident
an order joined, a community dispatcher seeing its own community only, and the month's rates with n and
样本不足 below the minimum."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.hotline import load_hotline
from schemas.display import CATEGORY, INCIDENT_EVENT, RATE, URGENCY, local_minute
from tests.browser.conftest import ARTIFACTS, close, open_console
from tests.support.hotline_rows import insert_orders, order

pytestmark = pytest.mark.integration

TZ = "Asia/Shanghai"
SCREENSHOT = "/tmp/h15-console.png"
TIMINGS = """async () => {
  const timed = async (path) => { const t = performance.now(); await (await fetch(path)).json(); return performance.now() - t; };
  const orders = await timed("/api/hotline/orders?limit=200"), rates = await timed("/api/hotline/rates");
  const t = performance.now();
  for (let i = 0; i < 5; i++) window.redwall.renderOrders(true);
  return { orders, rates, redraw: (performance.now() - t) / 5, rows: document.querySelectorAll("#hotline-orders tr").length };
}"""


async def orders_of_this_month(pg, community: str, street: str = "xichangan") -> int:
    """n as the rates count it: the community's orders in the dispatcher's street dispatched this month (in
    the street's zone) up to now, less those returned by now. Other tests leave orders of any date behind
    (tests/streams/patrol/test_advisories.py: c03's in 2031), which no month to date holds."""
    now = datetime.now(UTC)
    start = now.astimezone(ZoneInfo(TZ)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    sql = (
        "SELECT count(*) FROM hotline_orders WHERE community_id = $1 AND street_id = $2 AND dispatched_at >= $3 "
        "AND dispatched_at < $4 AND dispatched_at <= $5 AND NOT (returned_at IS NOT NULL AND returned_at <= $5)"
    )
    return await pg.fetchval(sql, community, street, start, end, now)


@pytest.fixture
async def orders(pg):
    """Orders of c01 (overdue, due within the hour, due in a week) and twelve of c03; ids tagged per test."""
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC).replace(microsecond=0)
    late = order(f"H{run}-late", "c01", now - timedelta(days=3), urgency="utilities", category="facility_damage",
                 content="小区供暖管道漏水三天未修", contacted_at=now - timedelta(days=3) + timedelta(minutes=40),
                 resolve_by=now - timedelta(days=2))  # fmt: skip
    soon = order(f"H{run}-soon", "c01", now - timedelta(hours=1), urgency="emergency", category="safety_hazard",
                 content="楼道电动车充电飞线", resolve_by=now + timedelta(hours=1))  # fmt: skip
    week = order(f"H{run}-week", "c01", now - timedelta(minutes=20), placed_by="address", grid_id="c01-g02")
    # c03: enough orders to be ranked; the even ones closed with a call-back, the odd ones still open
    ranked = [order(f"H{run}-c03-{i}", "c03", now - timedelta(hours=3 + i), contacted_at=now - timedelta(hours=2 + i),
                    grid_first=i % 2 == 0, **({"closed_at": now - timedelta(hours=1), "callback_at": now,
                    "callback_resolved": True, "satisfaction": "satisfied"} if i % 2 == 0 else {}))
              for i in range(12)]  # fmt: skip
    await insert_orders(pg, [late, soon, week, *ranked])
    # The incident the overdue order joined, as the incident sink stores it.
    await pg.execute(
        "INSERT INTO incidents (id, street_id, community_id, category, severity, priority, status, level, owner, "
        "opened_at, report_count, last_report_at, last_seq, updated_at) VALUES ($1, 'xichangan', 'c01', "
        "'facility_damage', 'medium', 'normal', 'assigned', 'community', 'c01', $2, 1, $2, 1, $2)",
        f"inc-{run}-late",
        late["dispatched_at"],
    )
    await pg.execute(
        "INSERT INTO incident_reports (report_id, incident_id, linked_at) VALUES ($1, $2, now())",
        late["report_id"],
        f"inc-{run}-late",
    )
    return {"late": late, "soon": soon, "week": week, "run": run}


async def test_the_overdue_order_comes_first_with_its_limit_and_the_rates_show_n(stack, browser, pg, orders):
    run = orders["run"]
    page = await open_console(browser, stack.settings, stack.tokens["community"], width=1600, height=1000)
    await page.click("#hotline-toggle")
    await page.wait_for_selector("#hotline[data-loaded='1'] #hotline-rates tr", timeout=15_000)
    # Loaded while the view was closed, and drawn when it opens: the rows, not the rates, say it is drawn.
    await page.wait_for_selector(f"#hotline-orders tr[data-order='H{run}-late']", timeout=15_000)
    rows = page.locator("#hotline-orders tr")
    ids = await rows.evaluate_all("rows => rows.map(r => r.dataset.order)")
    # Overdue, then the nearest limit (other tests' orders of the shared database may sit between them).
    assert [i for i in ids if run in i][:3] == [f"H{run}-late", f"H{run}-soon", f"H{run}-week"], ids
    overdue = await rows.evaluate_all("rows => rows.map(r => r.classList.contains('overdue'))")
    assert overdue == sorted(overdue, reverse=True)  # no order past its limit below one that is not
    assert [i for i in ids if "c03" in i] == []  # c01's dispatcher sees c01's orders only

    row = {tag: page.locator(f"#hotline-orders tr[data-order='H{run}-{tag}']") for tag in ("late", "soon")}
    late = await row["late"].inner_text()
    assert await row["late"].get_attribute("class") == "overdue"
    assert f"{INCIDENT_EVENT['deadline_missed']} 2天" in late  # resolve limit passed two days ago
    assert local_minute(orders["late"]["resolve_by"], TZ) in late  # in Beijing time, the browser being in UTC
    assert CATEGORY["facility_damage"] in late and URGENCY["utilities"] in late
    assert await row["late"].locator(f"button[data-incident='inc-{run}-late']").count() == 1
    soon = await row["soon"].inner_text()
    assert INCIDENT_EVENT["deadline_missed"] not in soon and ("剩 59分钟" in soon or "剩 1小时00分" in soon)
    assert local_minute(orders["soon"]["contact_by"], TZ) in soon

    table = page.locator("#hotline-rates")
    assert RATE["response"] in await page.locator("#hotline-rates-head").inner_text()
    c01, c03 = table.locator("tr[data-community='c01']"), table.locator("tr[data-community='c03']")
    assert await c01.locator("td.n").inner_text() == str(await orders_of_this_month(pg, "c01"))
    assert "样本不足" in await c01.inner_text()  # under min_n: shown, never ranked
    n03 = await orders_of_this_month(pg, "c03")
    assert await c03.locator("td.n").inner_text() == str(n03)
    assert n03 >= load_hotline(stack.settings.hotline_path).min_n and "样本不足" not in await c03.inner_text()
    assert "街道前响应" in await page.locator("#hotline-street").inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-hotline.png"))

    # The link opens the incident the order joined, in place of the 12345 view.
    await row["late"].locator(f"button[data-incident='inc-{run}-late']").click()
    await page.wait_for_selector(f"#detail[data-incident='inc-{run}-late'] h3", timeout=10_000)
    assert await page.locator("#hotline").is_hidden()
    assert CATEGORY["facility_damage"] in await page.locator("#detail").inner_text()
    await close(page)


async def test_the_street_sees_every_community_and_the_button_counts_the_overdue(stack, browser, pg, orders):
    """With more open orders than one page of the API holds (200), the last one is listed too."""
    run, now = orders["run"], datetime.now(UTC)
    # A quiet month's backlog in c04: contacted, complex (15 days), so they sort after every other.
    backlog = [order(f"H{run}-c04-{i:03d}", "c04", now - timedelta(minutes=i), urgency="complex",
                     contacted_at=now, resolve_by=now + timedelta(days=15, minutes=-i)) for i in range(250)]  # fmt: skip
    await insert_orders(pg, backlog)
    page = await open_console(browser, stack.settings, stack.tokens["street"], width=1600, height=1000)
    await page.wait_for_function("() => Number(document.querySelector('#hotline-toggle .n').textContent) > 0")
    await page.click("#hotline-toggle")
    await page.wait_for_selector(f"#hotline-orders tr[data-order='H{run}-c03-1']", timeout=15_000)
    assert await page.locator(f"#hotline-orders tr[data-order='H{run}-c04-000']").count() == 1  # the last of all
    ids = await page.locator("#hotline-orders tr").evaluate_all("rows => rows.map(r => r.dataset.order)")
    assert ids.index(f"H{run}-late") < ids.index(f"H{run}-soon") < ids.index(f"H{run}-c04-249")
    await page.screenshot(path=SCREENSHOT)
    timings = await page.evaluate(TIMINGS)
    print(f"\n12345 view, {timings['rows']} orders: /api/hotline/orders {timings['orders']:.0f} ms, "
          f"/api/hotline/rates {timings['rates']:.0f} ms, list redrawn in {timings['redraw']:.1f} ms")  # fmt: skip
    await close(page)
