"""The console's daily patrol summary over real HTTP on real PostgreSQL: the hand-computed day of
tests/support/patrol_day.py for the street, a community dispatcher seeing only the workers of its grids, one
device, and a bad date refused with 422 naming `date`."""

from __future__ import annotations

import dataclasses
import uuid

import aiohttp
import pytest

from sinks.credentials import issue_dispatcher_token
from streams.demo.embedded import free_port
from tests.support.console_app import serving
from tests.support.patrol_day import ANSWER, patrol_day_database

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
FIGURES = ("on_duty_s", "on_post_s", "distance_m", "grids", "courtyards", "reports", "tasks_done")
FIGURES += ("tasks_unconfirmed", "arrive_median_s")


@pytest.fixture(scope="module")
async def console(database_url, settings):
    async with patrol_day_database(database_url) as url:
        mine = dataclasses.replace(settings, database_url=url, console_port=free_port())
        tokens = {
            who: await issue_dispatcher_token(url, f"patrol-day-{RUN}-{who}", role, community)
            for who, role, community in (("street", "street", None), ("c01", "community", "c01"))
        }
        async with serving(mine) as url:
            yield url, tokens


async def call(console, who: str, **params) -> tuple[int, dict]:
    base, tokens = console
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {tokens[who]}"}) as http:
        async with http.get(f"{base}/api/patrol/day", params=params) as answer:
            return answer.status, await answer.json()


def figures(row: dict) -> tuple:
    places = {key: tuple(p["id"] for p in row[key]) for key in ("grids", "courtyards")}
    values = {**row, **places, "distance_m": pytest.approx(row["distance_m"], abs=1e-6)}
    return tuple(values[key] for key in FIGURES)


async def test_the_street_sees_every_worker_as_computed_by_hand(console):
    status, body = await call(console, "street", date="2026-12-03")
    assert status == 200, body
    assert (body["date"], body["timezone"]) == ("2026-12-03", "Asia/Shanghai")
    assert {row["device"]: figures(row) for row in body["workers"]} == ANSWER
    w1 = body["workers"][0]
    assert (w1["name"], w1["role"], w1["grid"]) == ("张三", "grid_worker", "c01-g01")
    assert w1["courtyards"] == [{"id": "c01-g01-y01", "name": "新文化街社区第1网格1号院"}]


async def test_a_community_dispatcher_sees_the_workers_of_its_grids_only(console):
    status, body = await call(console, "c01", date="2026-12-03")
    assert status == 200, body
    assert [row["device"] for row in body["workers"]] == ["W1", "W2"]  # W3's grid is in c02
    status, body = await call(console, "c01", date="2026-12-03", device="W3")
    assert (status, body["workers"]) == (200, [])


async def test_one_device(console):
    status, body = await call(console, "street", date="2026-12-03", device="W2")
    assert status == 200, body
    assert [figures(row) for row in body["workers"]] == [ANSWER["W2"]]


@pytest.mark.parametrize("bad", ["2026-12-32", "yesterday", "2026/12/03"])
async def test_a_bad_date_is_422_naming_it(console, bad):
    status, body = await call(console, "street", date=bad)
    assert status == 422
    assert [e["field"] for e in body["errors"]] == ["date"]


async def test_no_dispatcher_no_summary(console):
    base, _ = console
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/patrol/day", params={"date": "2026-12-03"}) as answer:
            assert answer.status == 401
