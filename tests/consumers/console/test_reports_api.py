"""The console's 周报 over real HTTP on real PostgreSQL: a signed-in dispatcher lists the made reports (week,
made at in Beijing time, links) and reads their HTML and PDF; nobody else does; a bad or unmade week is
refused naming the field. In a district, its dispatcher is offered the district's own report (全区) first and
reads it; a street's dispatcher is not (404 naming `street`). Each request works out the dispatcher's street
once."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import aiohttp
import pytest

from config.geometry import load_geometry
from config.sample.district import district_path
from consumers.console import reports
from sinks.credentials import issue_dispatcher_token
from sinks.postgres import open_pool
from sinks.weekly_reports import claim, mark_announced, store
from streams.demo.embedded import free_port
from streams.scope import street_scope
from tests.support.console_app import serving
from tests.support.weekly_schedule import FixedMaker

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
WEEK = "2036-W10"
MADE = datetime(2036, 3, 10, 0, 5, tzinfo=UTC)  # 08:05 in Beijing


@pytest.fixture
async def made(settings):
    street = load_geometry(settings.geometry_path, check_areas=False).street.id
    pool = await open_pool(settings.database_dsn, max_size=1)
    try:
        if await claim(pool, street, WEEK, f"test-{RUN}", MADE):
            report = await FixedMaker()(pool, settings, WEEK)
            assert await store(pool, street, WEEK, f"test-{RUN}", report, f"report:weekly:{street}:{WEEK}", MADE)
            # Announced too, as the schedule leaves it: another test's scheduler on the session's database
            # would otherwise announce it on its next look.
            await mark_announced(pool, street, WEEK, MADE)
    finally:
        await pool.close()


async def test_a_dispatcher_lists_the_reports_and_reads_their_files(console, settings, made):
    token = await issue_dispatcher_token(settings.database_url, f"reports-{RUN}-c01", "community", "c01")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.get(f"{console}/api/reports") as answer:
            assert answer.status == 200
            listed = {r["week"]: r for r in (await answer.json())["reports"]}
        row = listed[WEEK]
        assert (row["made_local"], row["html"], row["pdf"]) == (
            "2036-03-10 08:05",
            f"/reports/{WEEK}.html",
            f"/reports/{WEEK}.pdf",
        )
        async with http.get(console + row["html"]) as answer:
            assert answer.status == 200 and answer.content_type == "text/html"
            assert f"专报 {WEEK}" in await answer.text()
            assert "script-src" not in answer.headers["Content-Security-Policy"]  # the report's own: no script
        async with http.get(console + row["pdf"]) as answer:
            assert answer.status == 200 and answer.content_type == "application/pdf"
            assert await answer.read() == b"%PDF-1.7 " + WEEK.encode()
        for path, status, field in (("/reports/2036-W99.html", 400, "week"), ("/reports/2036-W11.pdf", 404, "week")):
            async with http.get(console + path) as answer:
                assert answer.status == status, path
                assert (await answer.json())["errors"][0]["field"] == field


async def test_each_request_works_out_the_dispatchers_street_once(console, settings, monkeypatch):
    """What the listing checks ?street= against and what it offers are one working-out of the dispatcher's street."""
    asked = []

    def counted(who, geometry):
        asked.append(who.subject)
        return street_scope(who, geometry)

    monkeypatch.setattr(reports, "street_scope", counted)
    name = f"reports-{RUN}-once"
    token = await issue_dispatcher_token(settings.database_url, name, "community", "c01")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.get(f"{console}/api/reports") as answer:
            assert answer.status == 200
            listed = await answer.json()
        assert [s["id"] for s in listed["streets"]] == [listed["street"]] and asked == [name]
        async with http.get(f"{console}/reports/2036-W11.pdf") as answer:
            assert answer.status == 404 and (await answer.json())["errors"][0]["field"] == "week"
        assert asked == [name, name]


async def test_without_a_dispatcher_neither_the_list_nor_the_files(console, made):
    async with aiohttp.ClientSession() as http:
        for path in ("/api/reports", f"/reports/{WEEK}.html", f"/reports/{WEEK}.pdf"):
            async with http.get(console + path, allow_redirects=False) as answer:
                assert answer.status == 401, path
                assert b"%PDF" not in await answer.read()
        async with http.get(
            console + f"/reports/{WEEK}.html", headers={"Authorization": "Bearer not-a-token"}
        ) as answer:
            assert answer.status == 401


async def test_the_district_dispatcher_is_offered_and_reads_the_districts_report_and_a_street_dispatcher_gets_404(
    settings, scratch
):
    district = dataclasses.replace(
        settings, geometry_path=district_path(2), database_url=scratch, console_port=free_port()
    )
    pool = await open_pool(scratch, max_size=1)
    try:
        for owner in ("xichangan", "xicheng"):  # a street's report and the district's
            assert await claim(pool, owner, WEEK, f"test-{RUN}", MADE)
            report = await FixedMaker()(pool, district, WEEK, owner)
            assert await store(pool, owner, WEEK, f"test-{RUN}", report, f"report:weekly:{owner}:{WEEK}", MADE)
    finally:
        await pool.close()
    whole = await issue_dispatcher_token(scratch, f"reports-{RUN}-district", "district")
    street = await issue_dispatcher_token(scratch, f"reports-{RUN}-street", "street", street="xichangan")
    async with serving(district) as console, aiohttp.ClientSession() as http:
        async with http.get(f"{console}/api/reports", headers={"Authorization": f"Bearer {whole}"}) as answer:
            listed = await answer.json()
        assert (listed["street"], [s["id"] for s in listed["streets"]]) == (
            "xicheng",
            ["xicheng", "xichangan", "xinjiekou"],
        )
        assert listed["streets"][0]["name"] == "全区（西城区）"
        assert [r["pdf"] for r in listed["reports"]] == [f"/reports/{WEEK}.pdf?street=xicheng"]
        async with http.get(
            console + listed["reports"][0]["pdf"], headers={"Authorization": f"Bearer {whole}"}
        ) as answer:
            assert answer.status == 200 and await answer.read() == b"%PDF-1.7 " + WEEK.encode()
            assert answer.headers["Content-Disposition"] == f'inline; filename="redwall-xicheng-{WEEK}.pdf"'
        mine = {"Authorization": f"Bearer {street}"}
        async with http.get(f"{console}/api/reports", headers=mine) as answer:
            assert [s["id"] for s in (await answer.json())["streets"]] == ["xichangan"]  # no 全区 to pick
        for path in (
            "/api/reports?street=xicheng",
            f"/reports/{WEEK}.html?street=xicheng",
            f"/reports/{WEEK}.pdf?street=xicheng",
        ):
            async with http.get(console + path, headers=mine) as answer:
                assert answer.status == 404, path
                assert (await answer.json())["errors"][0]["field"] == "street"
