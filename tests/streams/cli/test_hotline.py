"""`redwall hotline rates|topics` against a real PostgreSQL of their own, holding last month's orders:
Chinese first, percentages to one decimal with n and call-backs, 样本不足 below min_n, --json for scripts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from config.geometry import load_geometry
from config.hotline import load_hotline
from config.settings import SAMPLE_GEOMETRY
from schemas.display import RATE, zone
from sinks.hotline import HotlineSink
from sinks.migrate import migrate
from sinks.postgres import seed_places
from tests.support.databases import own_database
from tests.support.hotline import WORKING_CALENDAR
from tests.support.hotline_orders import located_order, order_event

CONFIG = load_hotline()
TZ = "Asia/Shanghai"
_THIS_MONTH = datetime.now(UTC).astimezone(zone(TZ)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
START = (_THIS_MONTH - timedelta(days=1)).replace(day=1)  # last month, whole
MONTH = f"{START:%Y-%m}"


def c01_orders() -> list[dict]:
    """12 orders of c01 (ranked): 11 contacted in time, 1 late; 8 closed in time with call-backs, 6 of
    them resolved, 4 satisfied and 2 basically; the rest open past their limit."""
    records = []
    for n in range(12):
        at = START + timedelta(days=1, hours=n)
        records.append(located_order(CONFIG, f"cli-{n}", at))
        records.append(order_event(f"cli-{n}-c", f"cli-{n}", "contacted", at + timedelta(hours=5 if n == 0 else 1)))
        if n < 8:
            records.append(order_event(f"cli-{n}-x", f"cli-{n}", "closed", at + timedelta(days=2), result="已办结"))
            records.append(
                order_event(
                    f"cli-{n}-b",
                    f"cli-{n}",
                    "callback",
                    at + timedelta(days=3),
                    resolved="yes" if n < 6 else "no",
                    satisfaction="satisfied" if n < 4 else "basically_satisfied" if n < 6 else "not_satisfied",
                )
            )
    return records


@pytest.fixture(scope="module")
async def database(database_url):
    url = await own_database(database_url, "hotline_cli")
    await migrate(url)
    pool = await asyncpg.create_pool(url, min_size=0, max_size=2)
    try:
        await seed_places(pool, load_geometry(SAMPLE_GEOMETRY))
        c02 = located_order(CONFIG, "cli-c02", START + timedelta(days=2), community="c02", grid="c02-g01")
        await HotlineSink(pool, CONFIG, WORKING_CALENDAR).write([*c01_orders(), c02])
    finally:
        await pool.close()
    return url


@pytest.fixture
def cli_database(database):
    return database


def test_rates_by_community_in_chinese_with_n_and_call_backs(redwall):
    code, out, err = redwall("hotline", "rates", "--month", MONTH)
    assert code == 0, err
    print(f"\n{out}")
    lines = out.splitlines()
    assert MONTH in lines[0] and "按社区" in lines[0] and f"({TZ})" in lines[0]
    assert all(RATE[r] in lines[1] for r in RATE)
    c01 = lines[2].split()
    # 响应率 11/12, 解决率 6/8, 满意率 (4 + 2 × 0.8)/8, 按时办结率 8/12, composite 0.2·… + 0.4·… + 0.4·…
    composite = 0.2 * 11 / 12 + 0.4 * 6 / 8 + 0.4 * 5.6 / 8
    assert c01 == ["c01", "新文化街社区", "12", "8", "91.7%", "75.0%", "70.0%", "66.7%", f"{composite * 100:.1f}"] + [
        "0.0%",
        "12",
        "参与",
    ]
    c02 = lines[3].split()
    assert c02[:4] == ["c02", "和平门社区", "1", "0"] and c02[-1] == "样本不足" and c02[5:7] == ["-", "-"]


def test_rates_as_json_by_category(redwall):
    code, out, _ = redwall("hotline", "rates", "--month", MONTH, "--by", "category", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(r["key"], r["name"], r["n"], r["callbacks"]) for r in rows] == [
        ("sanitation", "环境卫生", 13, 8)
    ]


def test_topics_and_a_bad_month(redwall):
    code, out, _ = redwall("hotline", "topics", "--month", MONTH, "--json")
    found = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(t["grid"], t["category"], t["count"], t["usual"]) for t in found] == [
        ("c01-g01", "sanitation", 12, 0.0)
    ]
    code, out, _ = redwall("hotline", "topics", "--month", MONTH)
    assert code == 0 and "每月一题" in out and "环境卫生" in out and "本月 12 件" in out
    code, _, err = redwall("hotline", "rates", "--month", "2026-13")
    assert code == 2 and "YYYY-MM" in err


def test_orders_with_their_clocks(redwall):
    code, out, _ = redwall("hotline", "orders", "--community", "c01")
    lines = out.splitlines()
    assert code == 0 and [line.split()[0] for line in lines] == [f"cli-{n}" for n in range(8, 12)]
    assert "先行联系时限" in lines[0] and "（按时完成）" in lines[0] and "已超时" in lines[0] and "环境卫生" in lines[0]
    code, out, _ = redwall("hotline", "orders", "--status", "closed", "--json", "--limit", "3")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["id"] for r in rows] == ["cli-7", "cli-6", "cli-5"] and rows[0]["status"] == "closed"
