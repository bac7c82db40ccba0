"""The 12345 limits of config/hotline.toml counted on the working calendar (pure): an ordinary order
dispatched on the last working afternoon before National Day 2026 runs through the holiday in working
days, the make-up Saturday counting; its early warnings are in the same measure; an extension's warning
counts in the measure of the order's own limit; a limit written wrong is refused naming the key."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from config.errors import ConfigError
from config.hotline import extended_warning, load_hotline
from config.settings import HOTLINE
from schemas.display import zone
from tests.support.hotline import WORKING_CALENDAR as CAL

CONFIG = load_hotline()
BJ = zone("Asia/Shanghai")
# Wednesday 2026-09-30 15:00, the last working afternoon: 1-7 October are off (国庆节), Saturday 10 October
# is worked instead (调休), Sunday 11 October is off. Working hours 09:00-17:00, a working day 8 h.
DISPATCHED = datetime(2026, 9, 30, 15, 0, tzinfo=BJ)


def test_an_ordinary_order_before_national_day_runs_in_working_days_across_the_holiday_and_the_makeup_saturday():
    limits = CONFIG.limits("ordinary", DISPATCHED, CAL)
    # 7wd = 56 working hours: 30 Sep 15-17 (2, total 2); holiday 1-7 Oct; 8 Oct Thu (8, 10); 9 Oct Fri (8, 18);
    # 10 Oct Sat, made up (8, 26); 11 Oct Sun off; 12 Oct Mon (34), 13 Tue (42), 14 Wed (50); the last 6 h
    # on 15 Oct Thu from 09:00: 15:00.
    assert limits.resolve_by == datetime(2026, 10, 15, 15, 0, tzinfo=BJ)
    # The warning at 0.8 × 56 = 44.8 working hours: 42 by the end of 13 Oct, 2.8 h (2 h 48 min) more on
    # 14 Oct from 09:00: 11:48. (The linear share of calendar time, 0.8 × 15 days, would say 12 Oct 15:00.)
    assert limits.resolve_warn_at == datetime(2026, 10, 14, 11, 48, tzinfo=BJ)
    # Contact stays calendar time: 2 h runs through the evening, the warning at 1 h 36 min.
    assert limits.contact_by == datetime(2026, 9, 30, 17, 0, tzinfo=BJ)
    assert limits.contact_warn_at == datetime(2026, 9, 30, 16, 36, tzinfo=BJ)
    record = limits.as_record()
    assert (record["resolve_limit"], record["contact_limit"], record["rules"]) == ("7wd", "2h", CONFIG.version)
    assert record["resolve_warn_at"] == "2026-10-14T11:48:00+08:00"


def test_no_working_time_passes_in_the_holiday():
    limits = CONFIG.limits("ordinary", DISPATCHED, CAL)
    holiday = datetime(2026, 10, 7, 23, 0, tzinfo=BJ)
    assert CAL.remaining(DISPATCHED, CONFIG.resolve["ordinary"], holiday) == 54 * 3600  # only 30 Sep's 2 h gone
    assert limits.resolve_by > holiday + timedelta(days=7)


def test_a_calendar_limit_runs_through_the_holiday():
    limits = CONFIG.limits("utilities", DISPATCHED, CAL)  # 24h
    assert limits.resolve_by == DISPATCHED + timedelta(hours=24)
    assert limits.resolve_warn_at == DISPATCHED + timedelta(hours=19, minutes=12)


def test_an_extensions_warning_counts_from_dispatch_in_the_measure_of_the_orders_own_limit():
    # Extended to 22 Oct 15:00: 58 working hours from dispatch by the end of 15 Oct, 16 Oct Fri (66), 19 Oct
    # Mon (74), 20 Oct (82), 21 Oct (90), 22 Oct 09-15 (96). The warning at 0.8 × 96 = 76.8 h: 74 by the end
    # of 19 Oct, 2.8 h more on 20 Oct from 09:00: 11:48.
    new_limit = datetime(2026, 10, 22, 15, 0, tzinfo=BJ)
    assert CAL.counted(DISPATCHED, new_limit, True) == timedelta(hours=96)
    assert extended_warning(CAL, DISPATCHED, new_limit, "7wd", 0.8) == datetime(2026, 10, 20, 11, 48, tzinfo=BJ)
    # A calendar limit's extension keeps the linear share: 0.8 × 48 h.
    later = DISPATCHED + timedelta(hours=48)
    assert extended_warning(CAL, DISPATCHED, later, "24h", 0.8) == DISPATCHED + timedelta(hours=38, minutes=24)
    assert extended_warning(CAL, DISPATCHED, DISPATCHED, "7wd", 0.8) == DISPATCHED  # nothing left to warn of
    # Extended into a year the calendar does not know: no instant is guessed (the clocks take the linear share).
    assert extended_warning(CAL, DISPATCHED, datetime(2150, 1, 1, tzinfo=BJ), "7wd", 0.8) is None


@pytest.mark.parametrize("written", ['"7x"', '"-3wd"', "7"])
def test_a_limit_written_wrong_is_refused_naming_the_file_and_key(tmp_path, written):
    text = HOTLINE.read_text(encoding="utf-8").replace('ordinary = "7wd"', f"ordinary = {written}")
    assert text != HOTLINE.read_text(encoding="utf-8")
    (tmp_path / "sample").mkdir()
    (tmp_path / "sample" / "hotline_addresses.csv").write_text("address,lat,lng\n", encoding="utf-8")
    (tmp_path / "hotline.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"hotline\.toml.*limits\.resolve\.ordinary.*wd"):
        load_hotline(tmp_path / "hotline.toml")
