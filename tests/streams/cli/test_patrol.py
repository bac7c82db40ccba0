"""`redwall patrol who-was-here` against the hand-computed history of tests/support/presence.py in a PostgreSQL
of its own: Chinese first in Beijing minutes, --json for a script, a polygon from a GeoJSON file, refusals in
one line naming the option."""

from __future__ import annotations

import json
import uuid

import pytest

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

RUN = uuid.uuid4().hex[:8]
WINDOW = ("--from", "2024-02-29 10:00", "--to", "2024-02-29 11:00")


@pytest.fixture(scope="module")
async def history(database_url):
    async with presence_database(database_url, RUN) as url:
        yield url


@pytest.fixture
def cli_database(history) -> str:
    return history


def test_a_grid_in_chinese_and_beijing_minutes(redwall):
    code, out, err = redwall("patrol", "who-was-here", "--grid", GRID, *WINDOW)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(
        f"谁到过 · 网格 新文化街社区第1网格（{GRID}） · 2024-02-29 10:00 .. 2024-02-29 11:00 (Asia/Shanghai)"
    )
    assert lines[1].split() == ["设备", "姓名", "角色", "进入", "离开", "停留", "次数"]
    a = next(line for line in lines if line.startswith(device(RUN, "A")))
    assert a.split() == [device(RUN, "A"), "张三", "网格员", "2024-02-29", "10:00", "2024-02-29", "10:07", "3分钟", "2"]
    mine = [line.split()[0] for line in lines[2:] if line.startswith(f"presence-{RUN}-")]
    assert mine == [device(RUN, key) for key in GRID_ANSWER]  # the first to enter first


def test_json_for_a_courtyard_and_a_drawn_polygon(redwall, tmp_path):
    code, out, err = redwall("patrol", "who-was-here", "--courtyard", COURTYARD, *WINDOW, "--json")
    assert code == 0, err
    assert offsets([json.loads(line) for line in out.splitlines()], RUN) == COURTYARD_ANSWER
    drawn = tmp_path / "area.geojson"
    drawn.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": POLYGON}))
    code, out, err = redwall("patrol", "who-was-here", "--polygon", str(drawn), *WINDOW, "--json")
    assert code == 0, err
    assert offsets([json.loads(line) for line in out.splitlines()], RUN) == POLYGON_ANSWER


@pytest.mark.parametrize(
    "argv, named",
    [
        (("--grid", "c99-g01", *WINDOW), "grid"),
        (("--grid", GRID, "--from", "soon", "--to", "2024-02-29 11:00"), "--from"),
        (("--grid", GRID, "--from", "2024-01-01 00:00", "--to", "2024-02-29 00:00"), "to"),
        (("--polygon", "/nonexistent.geojson", *WINDOW), "polygon"),
    ],
)
def test_a_bad_question_is_refused_in_one_line(redwall, argv, named):
    code, out, err = redwall("patrol", "who-was-here", *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"redwall: patrol who-was-here: {named}:") and err.count("\n") == 1, err
