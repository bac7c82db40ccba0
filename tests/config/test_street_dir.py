"""`redwall street init|check` and `redwall roster import`: the street directory every service mounts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.geometry import load_geometry
from config.roster import load_roster
from config.roster_csv import import_roster_csv
from config.routing import load_routing
from config.street_dir import FILES, ZONES, check_street, init_street

ROOT = Path(__file__).resolve().parents[2]


def test_a_fresh_directory_has_every_file_with_a_header_and_pages_nobody(tmp_path):
    street = tmp_path / "street"
    written = init_street(street, from_sample=True)
    holidays = FILES["REDWALL_HOLIDAYS"]
    files = [name for name in FILES.values() if name != holidays]
    assert {w.name for w in written} == {
        *files,
        ZONES,
        "README.md",
        f"{holidays}/README.md",
        f"{holidays}/2027.toml",  # the sample's, marked illustrative in its first line
    }
    assert (street / holidays / "2027.toml").read_text(encoding="utf-8").startswith("# ILLUSTRATIVE")
    for name in files:
        head = (street / name).read_text(encoding="utf-8")[:400]
        assert head.startswith("#") or '"note":"ILLUSTRATIVE' in head, name
    assert check_street(street) == {
        "communities": 13,
        "grids": 71,
        "workers": 0,
        "major events": 0,
        "sensitive zones": 2,
        "webhooks": 0,
        "holiday years from files": 1,
    }
    geometry = load_geometry(street / "geometry.geojson", check_areas=False)
    assert geometry.street.name.endswith("（示意）")
    routing = load_routing(street / "routing.toml")
    assert routing.channels == {} and routing.routes_for({"kind": "offline", "level": "grid"})[0].channels == ()


def test_without_the_sample_there_is_no_map_until_one_is_imported(tmp_path):
    init_street(tmp_path)
    assert not (tmp_path / "geometry.geojson").exists()
    assert (tmp_path / ZONES).read_text().count('"features": []') == 1
    with pytest.raises(
        ConfigError,
        match=r"geometry.geojson: no map yet; import the street's GIS export: "
        r"redwall geometry import",
    ):
        check_street(tmp_path)


def test_a_street_without_next_years_holidays_is_refused_naming_the_folder(tmp_path):
    init_street(tmp_path, from_sample=True)
    (tmp_path / "holidays" / "2027.toml").unlink()
    with pytest.raises(ConfigError, match=r"holidays/2027.toml \(REDWALL_HOLIDAYS"):
        check_street(tmp_path)


def test_init_never_overwrites_what_the_street_already_filled_in(tmp_path):
    init_street(tmp_path, from_sample=True)
    (tmp_path / "routing.toml").write_text("# ours\n", encoding="utf-8")
    again = {w.name: w.done for w in init_street(tmp_path, from_sample=True)}
    assert again["routing.toml"] == "kept (exists)"
    assert (tmp_path / "routing.toml").read_text() == "# ours\n"


def test_rules_naming_a_zones_file_outside_the_directory_are_refused(tmp_path):
    init_street(tmp_path, from_sample=True)
    rules = tmp_path / "escalation.toml"
    rules.write_text(rules.read_text().replace(f'file = "{ZONES}"', 'file = "../zones.geojson"'))
    (tmp_path.parent / "zones.geojson").write_bytes((tmp_path / ZONES).read_bytes())
    with pytest.raises(ConfigError, match="is outside .*keep the zones file in the street directory"):
        check_street(tmp_path)


def test_rules_for_a_street_the_map_does_not_hold_are_refused_by_the_check_as_by_the_worker(tmp_path):
    init_street(tmp_path, from_sample=True)
    rules = tmp_path / "escalation.toml"
    rules.write_text(rules.read_text() + '\n[streets.xichangna.deadlines.grid]\nacknowledge = "20m"\nresolve = "4h"\n')
    with pytest.raises(
        ConfigError, match=r"streets\.xichangna: is not a street of the geometry; use one of .*xichangan"
    ):
        check_street(tmp_path)


STAFF = """设备号,姓名,角色,网格,结对,班次
dev-0001,张伟,流管员,c01-g01,t1,白班
dev-0002,李娜,志愿者,c01-g01,t1,day;night
dev-0003,王芳,grid_worker,c02-g01,,night
"""


def test_a_staff_spreadsheet_saved_by_chinese_excel_becomes_the_roster(tmp_path):
    init_street(tmp_path, from_sample=True)
    roster_file = tmp_path / "roster.toml"
    text = roster_file.read_text(encoding="utf-8").replace('name = "白班 / day"', 'name = "白班"')
    roster_file.write_text(
        text.replace('id = "day"', 'id = "白班"') + '\n[[shift]]\nid = "day"\nstart = "08:00"\nend = "20:00"\n',
        encoding="utf-8",
    )
    csv = tmp_path / "staff.csv"
    csv.write_bytes(STAFF.encode("gb18030"))
    grids = set(load_geometry(tmp_path / "geometry.geojson", check_areas=False).grids)
    assert import_roster_csv(csv, roster_file, grids) == 3
    roster = load_roster(roster_file, grids)
    assert roster.workers["dev-0001"].role == "migrant_officer" and roster.workers["dev-0002"].shifts == (
        "day",
        "night",
    )
    assert roster.workers["dev-0001"].team == "t1" and roster.workers["dev-0003"].team is None
    assert roster_file.read_text(encoding="utf-8").startswith("# The street's patrol roster")  # header kept


def test_a_spreadsheet_row_whose_grid_is_not_on_the_map_writes_nothing(tmp_path):
    init_street(tmp_path, from_sample=True)
    before = (tmp_path / "roster.toml").read_bytes()
    csv = tmp_path / "staff.csv"
    csv.write_text("device,name,role,grid\ndev-0009,赵磊,grid_worker,110102003001\n", encoding="utf-8-sig")
    grids = set(load_geometry(tmp_path / "geometry.geojson", check_areas=False).grids)
    with pytest.raises(ConfigError) as caught:
        import_roster_csv(csv, tmp_path / "roster.toml", grids, tmp_path / "geometry.geojson")
    message = str(caught.value)
    assert message.startswith(
        f"{csv} (worker #N is data row N): worker #1 (dev-0009): 赵磊's grid '110102003001' is not on the map"
    )
    assert f"use a grid id of {tmp_path / 'geometry.geojson'}" in message
    assert (tmp_path / "roster.toml").read_bytes() == before


def test_the_street_commands_run_before_any_setting_is_right(tmp_path):
    """In a container whose REDWALL_* already name the street directory, the files do not exist yet."""
    env = {
        **os.environ,
        "REDWALL_GEOMETRY": str(tmp_path / "street" / "geometry.geojson"),
        "REDWALL_ROSTER": str(tmp_path / "street" / "roster.toml"),
    }
    run = subprocess.run(
        [sys.executable, "-m", "streams.cli", "street", "init", str(tmp_path / "street")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "roster.toml: written" in run.stdout and "no map yet: import the street's GIS export" in run.stdout
    check = subprocess.run(
        [sys.executable, "-m", "streams.cli", "street", "check", str(tmp_path / "street")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 2 and "no map yet" in check.stderr
