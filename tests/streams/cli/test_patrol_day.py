"""`redwall patrol day` against the hand-computed day of tests/support/patrol_day.py in a PostgreSQL of its own:
a table in Chinese (durations in words, km to one decimal), --json for a script, one worker by --device, and
refusals in one line naming the option."""

from __future__ import annotations

import json

import pytest

from tests.support.patrol_day import ANSWER, patrol_day_database


@pytest.fixture(scope="module")
async def day_db(database_url):
    async with patrol_day_database(database_url) as url:
        yield url


@pytest.fixture
def cli_database(day_db) -> str:
    return day_db


def test_a_day_as_a_table_in_chinese(redwall):
    code, out, err = redwall("patrol", "day", "--date", "2026-12-03")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "每日巡查小结 · 2026-12-03 (Asia/Shanghai) · 3 人"
    assert lines[1].split() == [
        "姓名", "角色", "在班", "在岗", "步行距离", "网格", "院落", "上报", "任务完成", "到场用时中位数"
    ]  # fmt: skip
    # 32400 s, 30300 s, 556.60 m, 2 grids, 1 courtyard, 2 reports, 3 done of which 1 unconfirmed, median 900 s
    assert lines[2].split() == [
        "张三",
        "网格员",
        "9小时00分",
        "8小时25分",
        "0.6km",
        "2",
        "1",
        "2",
        "3（1未确认到场）",
        "15分钟",
    ]
    assert lines[3].split() == ["李四", "志愿者", "8小时00分", "7小时38分", "0.3km", "1", "0", "1", "1", "5分钟"]
    assert lines[4].split() == ["王五", "网格长", "20小时00分", "8小时00分", "0.0km", "0", "0", "0", "0", "-"]


def test_json_for_one_device(redwall):
    code, out, err = redwall("patrol", "day", "--date", "2026-12-03", "--device", "W2", "--json")
    assert code == 0, err
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert (row["device"], row["on_duty_s"], row["on_post_s"], row["reports"]) == ("W2", *ANSWER["W2"][:2], 1)
    assert row["grids"] == [{"id": "c01-g02", "name": "新文化街社区第2网格"}] and row["courtyards"] == []


@pytest.mark.parametrize(
    "argv, named",
    [(("--date", "2026-13-01"), "--date"), (("--date", "yesterday"), "--date"), (("--device", "nobody"), "--device")],
)
def test_a_bad_question_is_refused_in_one_line(redwall, argv, named):
    code, out, err = redwall("patrol", "day", *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"redwall: patrol day: {named}:") and err.count("\n") == 1, err
