"""The console's 12345 API over real HTTP on real PostgreSQL: a community dispatcher reads its own
community's orders and nothing else, every dispatcher reads the rates with their n, and a bad query is
refused naming its field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from sinks.credentials import issue_dispatcher_token
from tests.support.hotline_rows import insert_orders, order

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]


async def get(base: str, token: str, path: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.get(base + path) as answer:
            return answer.status, await answer.json()


async def test_a_community_dispatcher_reads_only_its_own_orders_the_street_reads_all(console, settings, pg):
    now = datetime.now(UTC)
    await insert_orders(
        pg,
        [
            order(f"api-{RUN}-c01", "c01", now - timedelta(hours=1)),
            order(f"api-{RUN}-c02", "c02", now - timedelta(hours=1)),
            order(f"api-{RUN}-none", "unlocated", now - timedelta(hours=1), placed_by="unlocated"),
        ],
    )
    db = settings.database_url
    street = await issue_dispatcher_token(db, f"api-{RUN}-street", "street")
    c01 = await issue_dispatcher_token(db, f"api-{RUN}-c01", "community", "c01")

    def mine(body):
        return {o["id"].removeprefix(f"api-{RUN}-") for o in body["orders"] if o["id"].startswith(f"api-{RUN}-")}

    status, body = await get(console, street, "/api/hotline/orders?limit=200")
    assert status == 200 and mine(body) == {"c01", "c02", "none"}
    status, body = await get(console, c01, "/api/hotline/orders?limit=200")
    assert status == 200 and mine(body) == {"c01"} and body["community"] == "c01"
    assert {o["community_id"] for o in body["orders"]} == {"c01"}

    status, body = await get(console, c01, "/api/hotline/orders?community=c02")
    assert status == 403 and body["errors"][0]["field"] == "community"
    status, body = await get(console, street, "/api/hotline/orders?community=c02&limit=200")
    assert status == 200 and mine(body) == {"c02"}


async def test_rates_carry_n_and_the_minimum_and_bad_queries_name_their_field(console, settings, pg):
    community = f"r{RUN}"  # a community of this test's own: its row holds only this order
    await insert_orders(pg, [order(f"api-{RUN}-rated", community, datetime.now(UTC) - timedelta(hours=1))])
    read = await issue_dispatcher_token(settings.database_url, f"api-{RUN}-read", "read")
    status, body = await get(console, read, "/api/hotline/rates?period=30d")
    assert status == 200 and body["min_n"] == 10 and body["period"] == "30d"
    assert all({"key", "name", "n", "callbacks", "response", "ranked"} <= row.keys() for row in body["rates"])
    mine = next(row for row in body["rates"] if row["key"] == community)
    assert (mine["n"], mine["callbacks"], mine["ranked"]) == (1, 0, False)
    assert body["street"]["n"] >= 1

    for path, field in [
        ("/api/hotline/orders?status=lost", "status"),
        ("/api/hotline/orders?limit=0", "limit"),
        ("/api/hotline/orders?limit=201", "limit"),
        ("/api/hotline/orders?limit=²", "limit"),
        ("/api/hotline/orders?offset=-1", "offset"),
        ("/api/hotline/rates?month=2026-13", "month"),
        ("/api/hotline/rates?by=city", "by"),
        ("/api/hotline/rates?period=year", "period"),
    ]:
        status, body = await get(console, read, path)
        assert (status, body["errors"][0]["field"]) == (400, field), path
    async with aiohttp.ClientSession() as http, http.get(console + "/api/hotline/orders") as answer:
        assert answer.status == 401  # no dispatcher, no orders
