"""The working calendar (config/calendar.py): the issue's worked examples from the defaults, agreement
with a minute-by-minute count, pauses never shortening a limit, refusals naming the file, and
`redwall calendar`."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.calendar import NotCovered, load_calendar
from config.errors import ConfigError
from config.settings import CALENDAR, HOLIDAYS, SAMPLE_HOLIDAYS
from config.spans import Span, parse_span

TZ = ZoneInfo("Asia/Shanghai")
CAL = load_calendar(CALENDAR, SAMPLE_HOLIDAYS, "Asia/Shanghai", today=date(2026, 12, 6))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


# -- the worked examples, from the defaults (Mon-Fri 09:00-17:00, 1wd = 8 working hours) --------


def test_pausing_for_65_working_minutes_moves_the_deadline_65_working_minutes_later():
    start = at("2026-11-30T09:00")  # Monday
    before = CAL.deadline(start, parse_span("4wh"))
    after = CAL.deadline(start, parse_span("4wh"), [(at("2026-11-30T10:00"), at("2026-11-30T11:05"))])
    assert (before, after) == (at("2026-11-30T13:00"), at("2026-11-30T14:05"))
    # Across the end of the day: 16:30 + 4wh = Tuesday 12:30; a pause 16:00-17:05 counts 60 working
    # minutes on Monday (17:00-17:05 is no working time) ...
    late = at("2026-11-30T16:30")
    assert CAL.deadline(late, parse_span("4wh")) == at("2026-12-01T12:30")
    # ... and one of 65 working minutes spanning the night (16:30-17:00 and 09:00-09:35) moves it 65.
    night = [(at("2026-11-30T16:30"), at("2026-12-01T09:35"))]
    assert CAL.deadline(late, parse_span("4wh"), night) == at("2026-12-01T13:35")
    assert CAL.counted(late, at("2026-12-01T09:35"), True) == timedelta(minutes=65)


def test_one_working_day_from_friday_afternoon_falls_on_monday():
    friday = at("2026-11-27T16:00")
    # 1wd = 8 working hours: 1 h on Friday (16:00-17:00) and 7 h on Monday from 09:00, i.e. 16:00. The
    # issue's "15:00" is what 7 working hours give; with 8-hour days 1wd always lands at the same time of
    # day on the next working day.
    assert CAL.deadline(friday, parse_span("1wd")) == at("2026-11-30T16:00")
    assert CAL.deadline(friday, parse_span("7wh")) == at("2026-11-30T15:00")
    # Calendar time runs over the weekend.
    assert CAL.deadline(friday, parse_span("1d")) == at("2026-11-28T16:00")


def test_a_case_before_national_day_does_not_fall_due_in_the_holiday_and_the_make_up_saturday_counts():
    eve = at("2026-09-30T15:00")  # the last working afternoon before 1-7 October 2026
    assert CAL.deadline(eve, parse_span("4wh")) == at("2026-10-08T11:00")  # 2 h that day, 2 h on the 8th
    assert CAL.deadline(eve, parse_span("1wd")) == at("2026-10-08T15:00")
    assert CAL.deadline(eve, parse_span("3wd")) == at("2026-10-10T15:00")  # Saturday the 10th is worked (调休)
    assert CAL.hours_of(date(2026, 10, 10)) and not CAL.hours_of(date(2026, 10, 5))
    assert not CAL.hours_of(date(2026, 10, 11))


def test_the_illustrative_sample_year_counts_like_a_real_one():
    assert CAL.sources[2027].endswith("2027.toml") and CAL.sources[2026].startswith("chinesecalendar")
    assert CAL.deadline(at("2026-12-31T16:00"), parse_span("1wd")) == at("2027-01-04T16:00")  # 1 Jan is off


# -- properties ---------------------------------------------------------------------------------------

BASE = at("2026-09-21T00:00")  # two weeks with a weekend, National Day and a make-up Saturday ahead
minutes = st.integers(min_value=0, max_value=21 * 24 * 60)
spans = st.builds(Span, st.integers(min_value=1, max_value=40 * 60).map(lambda m: m / 60), st.sampled_from(["h", "wh"]))
pause_lists = st.lists(st.tuples(minutes, st.integers(min_value=1, max_value=3 * 24 * 60)), max_size=4)


def _pauses(raw) -> list[tuple[datetime, datetime]]:
    return [(BASE + timedelta(minutes=a), BASE + timedelta(minutes=a + n)) for a, n in raw]


def _brute_force(start: datetime, span: Span, pauses) -> datetime:
    """Minute by minute: the end of the minute in which the span's last counted minute passes."""
    need, t = round(CAL.seconds(span) / 60), start
    while True:
        local = t.astimezone(TZ)
        working = any(
            lo <= local.time() < hi or (hi.hour == 0 and lo <= local.time()) for lo, hi in CAL.hours_of(local.date())
        )
        if (working or not span.working) and not any(a <= t < b for a, b in pauses):
            need -= 1
            if need == 0:
                return t + timedelta(minutes=1)
        t += timedelta(minutes=1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=minutes, span=spans, raw=pause_lists)
def test_deadlines_agree_with_a_minute_by_minute_count(start, span, raw):
    start, pauses = BASE + timedelta(minutes=start), _pauses(raw)
    assert CAL.deadline(start, span, pauses) == _brute_force(start, span, pauses)


@settings(max_examples=200, deadline=None)
@given(start=minutes, span=spans, raw=pause_lists, extra=pause_lists)
def test_pausing_never_shortens_a_deadline_and_the_time_counted_to_it_is_the_span(start, span, raw, extra):
    start = BASE + timedelta(minutes=start)
    fewer, more = _pauses(raw), _pauses(raw) + _pauses(extra)
    due = CAL.deadline(start, span, fewer)
    assert CAL.deadline(start, span, more) >= due >= start
    assert CAL.counted(start, due, span.working, fewer) == timedelta(seconds=CAL.seconds(span))
    assert CAL.remaining(start, span, due, fewer) == 0


def test_an_open_pause_stops_the_clock_and_remaining_counts_down_then_overdue():
    start = at("2026-11-30T09:00")
    assert CAL.deadline(start, parse_span("4wh"), [(at("2026-11-30T10:00"), None)]) is None
    assert CAL.deadline(start, parse_span("4h"), [(at("2026-11-30T14:00"), None)]) == at("2026-11-30T13:00")
    assert CAL.remaining(start, parse_span("4wh"), at("2026-11-30T12:30")) == 30 * 60
    open_pause = [(at("2026-11-30T10:00"), None)]  # 1 h counted before it, nothing after
    assert CAL.counted(start, at("2026-12-01T12:00"), True, open_pause) == timedelta(hours=1)
    assert CAL.remaining(start, parse_span("4wh"), at("2026-12-01T12:00"), open_pause) == 3 * 3600
    assert CAL.remaining(start, parse_span("1wh"), at("2026-12-01T09:30")) == -(7 * 60 + 30) * 60


def test_time_between_is_working_time_and_calendar_time_past_the_known_years():
    monday, friday = at("2026-11-30T09:00"), at("2026-11-27T16:00")
    assert CAL.between(friday, monday, True) == 3600 and CAL.between(monday, friday, True) == -3600
    far = at("2030-01-01T00:00")  # no calendar knows 2028-2030: told in calendar time, never raised
    assert CAL.between(monday, far, True) == (far - monday).total_seconds()


def test_lunch_breaks_and_a_day_past_the_known_years(tmp_path):
    toml = CALENDAR.read_text(encoding="utf-8").replace('"09:00-17:00"', '"09:00-12:00", "13:30-18:30"')
    (tmp_path / "calendar.toml").write_text(toml, encoding="utf-8")
    lunch = load_calendar(tmp_path / "calendar.toml", SAMPLE_HOLIDAYS, "Asia/Shanghai", today=date(2026, 12, 6))
    assert lunch.deadline(at("2026-11-30T11:00"), parse_span("2wh")) == at("2026-11-30T14:30")
    with pytest.raises(NotCovered, match="2028"):
        CAL.deadline(at("2027-12-31T09:00"), parse_span("2wd"))


# -- refusals -----------------------------------------------------------------------------------------


def test_start_up_refuses_a_calendar_that_does_not_cover_the_next_60_days_naming_the_files():
    with pytest.raises(ConfigError) as refused:
        load_calendar(CALENDAR, HOLIDAYS, "Asia/Shanghai", today=date(2026, 12, 6))
    text = str(refused.value)
    assert str(CALENDAR) in text and str(HOLIDAYS / "2027.toml") in text and "never guessed" in text
    load_calendar(CALENDAR, HOLIDAYS, "Asia/Shanghai", today=date(2026, 10, 1))  # 60 days stay in 2026


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("2027.toml", 'year = 2028\nnotice = "x"\nholidays = []\nworkdays = []', "name the file 2028.toml"),
        ("2027.toml", "year = 2027\nholidays = []\nworkdays = []", "notice: is missing"),
        ("2027.toml", 'year = 2027\nnotice = "x"\nholidays = [2027-01-01]\nworkdays = [2027-01-01]', "also a holiday"),
        ("2027.toml", 'year = 2027\nnotice = "x"\nholidays = ["1 Jan"]\nworkdays = []', "not a list of dates"),
        ("2027.toml", 'year = 2027\nnotice = "x"\nholidays = [2026-01-01]\nworkdays = []', "not in 2027"),
    ],
)
def test_a_wrong_year_file_is_refused_naming_it(tmp_path, name, text, problem):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=problem) as refused:
        load_calendar(CALENDAR, tmp_path, "Asia/Shanghai", today=date(2026, 12, 6))
    assert str(tmp_path / name) in str(refused.value)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('mon = ["9-17"]', "hours.mon: '9-17' is not HH:MM-HH:MM"),
        ('mon = ["13:00-17:00", "09:00-12:00"]', "overlaps"),
        ('day = "8x"', "hours.day"),
        ("makeup = []", "hours.makeup: has no hours"),
    ],
)
def test_wrong_hours_are_refused_naming_the_key(tmp_path, line, problem):
    key = line.split(" ")[0]
    lines = [line if raw.startswith(f"{key} ") else raw for raw in CALENDAR.read_text(encoding="utf-8").splitlines()]
    (tmp_path / "calendar.toml").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        load_calendar(tmp_path / "calendar.toml", SAMPLE_HOLIDAYS, "Asia/Shanghai", today=date(2026, 12, 6))


# -- the command --------------------------------------------------------------------------------------


def _redwall(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "calendar", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )


def test_redwall_calendar_deadline_prints_iso_8601_with_the_offset_and_counts_pauses():
    done = _redwall(
        "deadline", "--from", "2026-11-30T09:00", "--duration", "4wh", "--pause", "2026-11-30T10:00/2026-11-30T11:05"
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "2026-11-30T14:05:00+08:00\n", "")
    utc = _redwall("deadline", "--from", "2026-09-30T07:00Z", "--duration", "3wd")
    assert utc.stdout == "2026-10-10T15:00:00+08:00\n"
    bad = _redwall("deadline", "--from", "2026-11-30T09:00", "--duration", "4 hours")
    assert bad.returncode == 2 and "'4 hours' is not a limit" in bad.stderr and not bad.stdout


def test_redwall_calendar_days_names_each_day_as_the_calendar_counts_it():
    done = _redwall("days", "--from", "2026-10-07", "--days", "5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "2026-10-07  周三  节假日",
        "2026-10-08  周四  工作日  09:00-17:00",
        "2026-10-09  周五  工作日  09:00-17:00",
        "2026-10-10  周六  调休上班  09:00-17:00",
        "2026-10-11  周日  休息日",
    ]
