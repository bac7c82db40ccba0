"""The console's "who was here" over real HTTP on real PostgreSQL: a grid and a courtyard by GET, a drawn polygon
by POST, with the hand-computed answers of tests/support/presence.py and Beijing minutes; a community dispatcher
only inside its community (403 naming the field); bad times, a missing place, a window over 31 days: 400."""

from __future__ import annotations

import dataclasses
import uuid

import aiohttp
import pytest

from sinks.credentials import issue_dispatcher_token
from streams.demo.embedded import free_port
from tests.support.console_app import serving
from tests.support.presence import (
    COURTYARD,
    COURTYARD_ANSWER,
    GRID,
    GRID_ANSWER,
    POLYGON,
    POLYGON_ANSWER,
    device,
    offsets,
    presence_database,
)

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
WINDOW = {"from": "2024-02-29 10:00", "to": "2024-02-29 11:00"}  # Beijing time


@pytest.fixture(scope="module")
async def console(database_url, settings):
    async with presence_database(database_url, RUN) as url:
        mine = dataclasses.replace(settings, database_url=url, console_port=free_port())
        tokens = {
            who: await issue_dispatcher_token(url, f"presence-{RUN}-{who}", role, community)
            for who, role, community in (
                ("street", "street", None),
                ("c01", "community", "c01"),
                ("c02", "community", "c02"),
            )
        }
        async with serving(mine) as url:
            yield url, tokens


async def call(console, who: str, method: str, **kwargs) -> tuple[int, dict]:
    base, tokens = console
    headers = {"Authorization": f"Bearer {tokens[who]}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.request(method, f"{base}/api/presence", **kwargs) as answer:
            return answer.status, await answer.json()


async def test_a_grid_and_a_courtyard_by_id(console):
    status, body = await call(console, "street", "GET", params={"grid": GRID, **WINDOW})
    assert status == 200, body
    assert offsets(body["devices"], RUN) == GRID_ANSWER
    assert body["place"] == {"kind": "grid", "id": GRID, "name": "新文化街社区第1网格"}
    assert (body["from_local"], body["to_local"], body["timezone"]) == (
        "2024-02-29 10:00",
        "2024-02-29 11:00",
        "Asia/Shanghai",
    )
    a = next(row for row in body["devices"] if row["device"] == device(RUN, "A"))
    assert (a["name"], a["entry_local"], a["exit_local"], a["inside"]) == (
        "张三",
        "2024-02-29 10:00",
        "2024-02-29 10:07",
        "3分钟",
    )
    assert [v["inside"] for v in a["visits"]] == ["3分钟", "0分钟"]
    status, body = await call(console, "c01", "GET", params={"courtyard": COURTYARD, **WINDOW})
    assert status == 200, body
    assert offsets(body["devices"], RUN) == COURTYARD_ANSWER
    assert body["place"] == {"kind": "courtyard", "id": COURTYARD, "name": "新文化街社区第1网格1号院"}


async def test_a_drawn_polygon_by_post(console):
    for who in ("street", "c01"):
        status, body = await call(console, who, "POST", json={"polygon": POLYGON, **WINDOW})
        assert status == 200, body
        assert offsets(body["devices"], RUN) == POLYGON_ANSWER
        assert body["place"] == {"kind": "polygon", "id": None, "name": None}


async def test_a_community_dispatcher_asks_only_inside_its_community(console):
    for method, kwargs, field in (
        ("GET", {"params": {"grid": GRID, **WINDOW}}, "grid"),
        ("GET", {"params": {"courtyard": COURTYARD, **WINDOW}}, "courtyard"),
        ("POST", {"json": {"polygon": POLYGON, **WINDOW}}, "polygon"),
    ):
        status, body = await call(console, "c02", method, **kwargs)
        assert (status, body["errors"][0]["field"]) == (403, field), body
        assert "devices" not in body


@pytest.mark.parametrize(
    "method, kwargs, status, field",
    [
        ("GET", {"params": {"grid": GRID, "from": "tuesday", "to": WINDOW["to"]}}, 400, "from"),
        ("GET", {"params": {"grid": GRID, "from": WINDOW["from"]}}, 400, "to"),
        ("GET", {"params": WINDOW}, 400, "place"),
        ("GET", {"params": {"grid": "c99-g01", **WINDOW}}, 404, "grid"),
        ("GET", {"params": {"grid": GRID, "from": "2024-01-01 00:00", "to": "2024-02-29 00:00"}}, 400, "to"),
        ("POST", {"json": {"polygon": POLYGON, "from": "2024-02-29 10:00", "to": "2024-04-01 10:01"}}, 400, "to"),
        ("POST", {"json": WINDOW}, 400, "polygon"),
        ("POST", {"data": b"not json"}, 400, "body"),
    ],
)
async def test_a_bad_question_is_refused_naming_the_field(console, method, kwargs, status, field):
    got, body = await call(console, "street", method, **kwargs)
    assert (got, body["errors"][0]["field"]) == (status, field), body
