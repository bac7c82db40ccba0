"""The demo's working day: deadlines compressed with the report rate, and a roster that puts every simulated
phone on duty whenever the demo starts."""

from __future__ import annotations

from datetime import datetime, timedelta

from config.geometry import load_geometry
from config.hotline import load_hotline
from config.major_events import load_major_events
from config.roster import load_roster
from config.rules import load_rules
from config.sample.district import district_path
from config.settings import Settings
from config.spans import Span
from schemas.display import zone
from streams.demo import day as demo_day
from streams.demo.simulator import assigned_grid, device_id, walk_order
from tests.support.incident_factories import calendar

SETTINGS = Settings()
GRIDS = list(load_geometry(SETTINGS.geometry_path, check_areas=False).grids)
BEIJING = zone("Asia/Shanghai")


def phones(n: int) -> dict[str, str]:
    return {device_id(i): assigned_grid(i, GRIDS) for i in range(n)}


def test_deadlines_and_the_clustering_window_run_24_times_faster(tmp_path):
    real, fast = (
        load_rules(SETTINGS.escalation_rules_path),
        load_rules(demo_day.compressed_rules(SETTINGS.escalation_rules_path, tmp_path / "rules.toml")),
    )
    seconds = calendar().seconds
    for level, deadlines in real.deadlines.items():
        assert seconds(fast.deadlines[level].acknowledge) * 24 == seconds(deadlines.acknowledge)
        assert seconds(fast.deadlines[level].resolve) * 24 == seconds(deadlines.resolve)
    assert fast.deadline_overrides[("safety_hazard", "street")].acknowledge == Span(37.5, "s")
    assert fast.cluster_window * 24 == real.cluster_window
    assert (fast.alert_max_age, fast.keep_closed, fast.zones) == (real.alert_max_age, real.keep_closed, real.zones)


def test_a_street_month_of_reports_in_working_days_of_30_minutes():
    assert 2.2 < demo_day.REPORTS_PER_MINUTE < 2.3  # 2,000 / 30 days, 12 hours a day, 24 times faster


def test_the_12345_limits_run_24_times_faster_and_the_rest_of_the_file_stays(tmp_path):
    real = load_hotline(SETTINGS.hotline_path)
    fast = load_hotline(demo_day.compressed_hotline(SETTINGS.hotline_path, tmp_path / "hotline.toml"))
    assert fast.contact * 24 == Span(7200, "s") and real.contact == Span(2, "h")
    # Working time in calendar time, a working day 8 h: the demo's compressed day has no office hours.
    assert {u: limit * 24 for u, limit in fast.resolve.items()} == {
        "emergency": Span(7200, "s"),
        "utilities": Span(86400, "s"),
        "ordinary": Span(7 * 8 * 3600, "s"),
        "complex": Span(15 * 8 * 3600, "s"),
    }
    assert (real.resolve["ordinary"], real.resolve["complex"]) == (Span(7, "wd"), Span(15, "wd"))
    assert fast.addresses == real.addresses and len(fast.addresses) > 50  # the table, found from elsewhere
    assert (fast.precursor_days, fast.keep_orders, fast.keep_contact_hash) == (
        real.precursor_days,
        real.keep_orders,
        real.keep_contact_hash,
    )
    assert 9 < demo_day.HOTLINE_ORDERS_PER_MINUTE * 30 < 11  # ~300 orders a month: ~10 in the demo's day


def test_every_simulated_phone_is_on_duty_whenever_the_demo_starts(tmp_path):
    devices = phones(80)
    early = datetime(2026, 12, 6, 6, 7, tzinfo=BEIJING)
    sample = load_roster(SETTINGS.roster_path, GRIDS)
    assert sum(sample.on_duty(d, early) for d in devices) == 8  # the sample's day shift starts at 08:00
    for start in (early, early.replace(hour=0, minute=0), early.replace(hour=19, minute=59), early.replace(hour=23)):
        roster = load_roster(
            demo_day.roster_on_duty(SETTINGS.roster_path, tmp_path / "roster.toml", devices, start), GRIDS
        )
        for later in (start, start + timedelta(hours=11, minutes=59 - start.minute)):
            assert sum(roster.on_duty(d, later) for d in devices) == 80, (start, later)


def test_the_roster_holds_the_simulated_phones_only_with_whole_teams(tmp_path):
    start = datetime(2026, 12, 6, 6, 7, tzinfo=BEIJING)
    few = load_roster(demo_day.roster_on_duty(SETTINGS.roster_path, tmp_path / "few.toml", phones(3), start), GRIDS)
    assert set(few.workers) == {"dev-0001", "dev-0002", "dev-0003"}
    assert all(w.team is None for w in few.workers.values())  # their partners are not simulated
    many = load_roster(demo_day.roster_on_duty(SETTINGS.roster_path, tmp_path / "many.toml", phones(100), start), GRIDS)
    assert len(many.workers) == 100 and many.workers["dev-0100"].grid == assigned_grid(99, GRIDS)
    assert all(many.workers[d].grid == grid for d, grid in phones(100).items())


def test_a_districts_phones_spread_over_every_street_and_its_copies_name_only_its_grids(tmp_path):
    xicheng = load_geometry(district_path(), check_areas=False)
    order = walk_order(xicheng)
    assert sorted(order) == sorted(xicheng.grids) and walk_order(load_geometry(SETTINGS.geometry_path)) == GRIDS
    first = [xicheng.street_of(assigned_grid(i, order)) for i in range(15)]
    assert first == list(xicheng.streets)  # the first 15 phones: one in each street
    devices = {device_id(i): assigned_grid(i, order) for i in range(300)}
    start = datetime(2026, 12, 6, 9, 0, tzinfo=BEIJING)
    roster = load_roster(demo_day.roster_on_duty(SETTINGS.roster_path, tmp_path / "r.toml", devices, start), order)
    assert roster.workers["dev-0001"].name == "赵敏" and roster.workers["dev-0001"].grid == order[0]  # listed
    events = demo_day.major_events_for(SETTINGS.major_events_path, tmp_path / "events.toml", set(order))
    assert load_major_events(events, set(order)).periods and "c01-g01" not in events.read_text(encoding="utf-8")
    kept = demo_day.major_events_for(SETTINGS.major_events_path, tmp_path / "same.toml", set(GRIDS))
    assert (
        load_major_events(kept, set(GRIDS)).periods == load_major_events(SETTINGS.major_events_path, set(GRIDS)).periods
    )
