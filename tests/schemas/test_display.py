"""What people read: one set of Chinese names, and times in the street's zone to the minute."""

from datetime import UTC, datetime

import pytest

from schemas import display


def test_times_are_shown_in_the_streets_zone_to_the_minute():
    utc = datetime(2026, 12, 5, 22, 22, 27, 75807, tzinfo=UTC)
    assert display.local_minute(utc, "Asia/Shanghai") == "2026-12-06 06:22"
    assert display.local_minute("2026-12-05T22:22:27.075807+00:00", "Asia/Shanghai") == "2026-12-06 06:22"
    assert display.local_minute(utc, "Europe/London") == "2026-12-05 22:22"


def test_an_unknown_zone_is_named():
    with pytest.raises(ValueError, match="'Mars/Olympus' is not a time zone"):
        display.zone("Mars/Olympus")


@pytest.mark.parametrize(
    "seconds, words",
    [
        (59, "0分钟"),
        (45 * 60, "45分钟"),
        (2 * 3600 + 5 * 60, "2小时05分"),
        (3 * 86400 + 4 * 3600, "3天4小时"),
        (-90 * 60, "1小时30分"),
    ],
)
def test_spans_read_in_chinese(seconds, words):
    assert display.span_zh(seconds) == words


def test_every_declared_value_has_its_chinese_name():
    tables = display.names()
    assert tables["category"]["safety_hazard"] == "安全隐患"
    assert tables["level"]["district"] == "区（越级）"
    assert all(name.strip() for table in tables.values() for name in table.values())
