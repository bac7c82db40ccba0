"""Major-event periods: which are in force, the tightest deadline factor, and clear config errors."""

from datetime import UTC, datetime

import pytest

from config.errors import ConfigError
from config.major_events import Period, load_major_events

GOOD = """
[[period]]
id = "a"
name = "A"
start = "2027-03-03T00:00:00+08:00"
end = "2027-03-10T00:00:00+08:00"
deadline_factor = 0.5
min_on_post = 1
[period.min_on_post_by_grid]
"c01-g01" = 3
"""


def load(tmp_path, text, grids=None):
    path = tmp_path / "events.toml"
    path.write_text(text)
    return load_major_events(path, grids)


def test_sample_file_loads():
    assert [p.id for p in load_major_events().periods] == ["npc-2027", "national-day-2027"]


def test_active_periods_and_tightest_factor(tmp_path):
    events = load(tmp_path, GOOD)
    inside = datetime(2027, 3, 5, tzinfo=UTC)
    assert events.deadline_factor(inside) == 0.5
    assert events.deadline_factor(datetime(2027, 4, 1, tzinfo=UTC)) == 1.0
    assert events.active(inside)[0].required_on_post("c01-g01") == 3
    assert events.active(inside)[0].required_on_post("c05-g02") == 1
    switched_on = Period("cli", "from the CLI", inside, inside.replace(day=6), deadline_factor=0.25)
    assert events.with_period(switched_on).deadline_factor(inside) == 0.25


@pytest.mark.parametrize(
    "change, words",
    [
        (("0.5", "1.5"), "deadline_factor must be a number in (0, 1]"),
        (("2027-03-10T00:00:00+08:00", "2027-03-01T00:00:00+08:00"), "end must be after start"),
        (("2027-03-03T00:00:00+08:00", "March 3rd"), "not an RFC 3339 time"),
        (("min_on_post = 1", "min_on_post = -1"), "min_on_post must be a whole number"),
        (("min_on_post = 1", "min_on_pots = 1"), "unknown key 'min_on_pots'"),
        (('"c01-g01" = 3', '"c99-g01" = 3'), "unknown grid 'c99-g01'"),
    ],
)
def test_errors_name_file_period_and_fix(tmp_path, change, words):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, GOOD.replace(*change), grids={"c01-g01"})
    assert str(tmp_path / "events.toml") in str(info.value)
    assert "period #1 (a)" in str(info.value)
    assert words in str(info.value)
