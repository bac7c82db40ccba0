"""The roster file: the sample loads and matches the simulator; every error names file, entry, key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.geometry import load_geometry
from config.roster import load_roster
from config.settings import SAMPLE_GEOMETRY, SAMPLE_ROSTER

GRIDS = list(load_geometry(SAMPLE_GEOMETRY).grids)
SHIFT = '[[shift]]\nid = "day"\nstart = "08:00"\nend = "20:00"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roster.toml"
    path.write_text(text, encoding="utf-8")
    return path


def worker(device="dev-1", grid="c01-g01", **extra) -> str:
    lines = [f'device = "{device}"', 'name = "王伟"', 'role = "grid_worker"', f'grid = "{grid}"', 'shifts = ["day"]']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "[[worker]]\n" + "\n".join(lines) + "\n"


def test_sample_roster_matches_the_simulated_devices():
    roster = load_roster(SAMPLE_ROSTER, GRIDS)
    assert list(roster.workers) == [f"dev-{i:04d}" for i in range(1, 81)]
    for i in range(1, 81):
        assert roster.workers[f"dev-{i:04d}"].grid == GRIDS[(i - 1) % 71]
    roles = {w.role for w in roster.workers.values()}
    assert roles == {"grid_worker", "volunteer", "grid_chief", "migrant_officer"}
    pair = [w for w in roster.workers.values() if w.team == "team-01"]
    assert {w.role for w in pair} == {"migrant_officer", "volunteer"}


def test_duty_follows_local_shift_times_including_overnight():
    roster = load_roster(SAMPLE_ROSTER, GRIDS)
    nine_local = datetime(2027, 3, 5, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
    eleven_pm_local = datetime(2027, 3, 5, 15, 0, tzinfo=UTC)
    assert roster.on_duty("dev-0001", nine_local)
    assert not roster.on_duty("dev-0001", eleven_pm_local)
    assert roster.on_duty("dev-0010", eleven_pm_local)  # day and night shifts
    assert not roster.on_duty("not-on-roster", nine_local)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            SHIFT + worker(grid="c99-g99"),
            "worker #1 (dev-1): 王伟's grid 'c99-g99' is not on the map (its grids include ",
        ),
        (SHIFT + worker(role_x='"x"'), "worker #1 (dev-1): unknown key 'role_x'"),
        (SHIFT + worker().replace("grid_worker", "boss"), "role 'boss' is unknown"),
        (SHIFT + worker().replace('["day"]', '["dawn"]'), "unknown shift 'dawn'; declare it"),
        (SHIFT + worker() + worker(), "worker #2 (dev-1): device is listed twice"),
        (SHIFT + worker(team='"t1"'), "team 't1' has 1 member(s) (dev-1)"),
        (SHIFT.replace("08:00", "8 o'clock") + worker(), 'shift #1 (day): start: "8 o\'clock" is not a time of day'),
        ('timezone = "Mars/Olympus"\n' + SHIFT, "timezone 'Mars/Olympus' is unknown"),
        (SHIFT + "[[worker]]\nname = 1\n", "worker #1 (no device): device is required"),
        ("shift = [", "cannot read the roster"),
    ],
)
def test_errors_name_the_file_the_entry_and_the_fix(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_roster(path, GRIDS)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_a_roster_of_another_map_names_the_file_the_worker_the_grid_and_the_fix(tmp_path):
    """The sample map with a real street's roster (grid codes of its own map): the message says what
    to do, not only what is wrong."""
    path = write(tmp_path, SHIFT + worker(device="dev-0007", grid="110102003001"))
    with pytest.raises(ConfigError) as caught:
        load_roster(path, GRIDS, geometry=Path("/etc/redwall/street/geometry.geojson"))
    message = str(caught.value)
    assert message.startswith(f"{path}: worker #1 (dev-0007): 王伟's grid '110102003001' is not on the map")
    assert "c01-g01" in message  # what the map does have
    assert "a grid id of /etc/redwall/street/geometry.geojson" in message
    assert "redwall geometry import" in message and "REDWALL_GEOMETRY" in message
