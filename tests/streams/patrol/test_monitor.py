"""The monitor's timer tick skips devices with nothing due and must change exactly what a full check of
every device on every tick changes: a random day of fixes, gaps and ticks, against that oracle."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from config.roster import build_roster
from config.sample.district import district_path
from config.settings import Settings
from schemas import json
from streams.geofence.registry import GridRegistry
from streams.patrol.detector import Detector, DeviceState
from streams.patrol.monitor import PatrolMonitor
from tests.support.clock import ManualClock
from tests.support.patrol import T0, batch, far_outside, inside, monitor, registry

STREETS = ("xichangan", "xinjiekou")  # the first two of the sample district


def _changes(outs) -> list[tuple[str, str, str]]:
    records = [json.loads(o.value) for o in outs]
    return [(r["device"], r["status"], r["event_time"]) for r in records if r.get("type") == "status"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ticks_that_skip_quiet_devices_change_exactly_what_checking_every_device_changes(seed):
    rng = random.Random(seed)
    fast, full = monitor(("dev-1", "dev-2", "dev-3")), monitor(("dev-1", "dev-2", "dev-3"))
    oracle = Detector(full.detector.rules, full.on_duty, registry())
    got, want, mode = [], [], dict.fromkeys(("dev-1", "dev-2", "dev-3"), "in")
    for second in range(0, 10 * 3600, 10):  # 09:00 to 19:00 Beijing: the day shift ends at 18:00
        now = T0 + timedelta(seconds=second)
        fast.clock.set(now)
        full.clock.set(now)
        for device in mode:
            if rng.random() < 0.02:  # spells inside, far outside and silent, a few minutes each
                mode[device] = rng.choice(("in", "out", "silent"))
            if mode[device] != "silent" and rng.random() < 0.5:
                value = batch(device, second, where=inside() if mode[device] == "in" else far_outside())
                got += _changes(fast.positions(value))
                want += _changes(full.positions(value))
        got += _changes(fast.tick(["dev-1", "dev-2", "dev-3"], now))
        for device in ("dev-1", "dev-2", "dev-3"):
            state = full.state(device, full.roster.workers[device].grid)
            want += _changes(full.changes(oracle.detect(state, None, now)))
    assert got == want
    assert {s for _, s, _ in got} == {"unknown", "on_post", "off_post", "offline", "off_duty"}


def test_a_tick_before_the_deadline_looks_at_nothing_and_a_fix_forgets_the_deadline():
    m = monitor(("dev-1",))
    m.positions(batch("dev-1", 0))
    assert m.tick(["dev-1"], T0 + timedelta(seconds=10)) == []
    state: DeviceState = m.states["dev-1"]
    assert state.next_due == T0 + timedelta(seconds=300)  # the offline threshold after the last fix
    m.positions(batch("dev-1", 100))
    assert state.next_due is None
    assert m.tick(["dev-1"], T0 + timedelta(seconds=350)) == []
    [offline] = _changes(m.tick(["dev-1"], T0 + timedelta(seconds=400)))
    assert offline[1] == "offline" and offline[2] == (T0 + timedelta(seconds=400)).isoformat()


def test_a_late_batch_at_the_shift_end_leaves_exactly_one_off_duty():
    m = monitor(("dev-1",))
    end = 9 * 3600  # 18:00 in Beijing: the day shift ends
    m.clock.set(T0 + timedelta(seconds=end - 119))
    assert [s for _, s, _ in _changes(m.positions(batch("dev-1", end - 120)))] == ["unknown", "on_post"]
    m.clock.set(T0 + timedelta(seconds=end + 0.3))
    changes = _changes(m.tick(["dev-1"], m.clock.now()))
    changes += _changes(m.positions(batch("dev-1", end - 3, end - 2)))  # taken before the end, arriving after it
    m.clock.set(T0 + timedelta(seconds=end + 1))
    changes += _changes(m.tick(["dev-1"], m.clock.now()))
    assert [status for _, status, _ in changes] == ["off_duty"]


def test_in_a_district_pings_and_status_changes_count_by_the_street_of_the_devices_grid():
    district = GridRegistry.load(district_path(2))
    grids = {s: next(g for g in district.grids.values() if district.communities[g.parent].parent == s) for s in STREETS}
    m = PatrolMonitor(Settings.from_env(), district, ManualClock(T0))
    workers = [
        {"device": f"dev-{s}", "name": s, "role": "volunteer", "grid": grids[s].id, "shifts": ["day"]} for s in STREETS
    ]
    m.roster = build_roster("Asia/Shanghai", [{"id": "day", "start": "08:00", "end": "18:00"}], workers, "test")
    for n, street in enumerate(STREETS):
        lng, lat = grids[street].centre
        pings = [
            {"lat": lat, "lng": lng, "accuracy": 5.0, "time": (T0 + timedelta(seconds=s)).isoformat(), "street": street}
            for s in range(n + 1)
        ]
        m.positions(json.dumps({"device": f"dev-{street}", "pings": pings}))
        m.positions(json.dumps({"device": "stranger", "pings": pings[:1]}))
    assert m.pings == {
        ("xichangan", "good"): 1,
        ("xinjiekou", "good"): 2,
        ("xichangan", "unrostered"): 1,
        ("xinjiekou", "unrostered"): 1,
    }
    assert m.statuses == {("xichangan", "unknown"): 1, ("xinjiekou", "unknown"): 1}  # on duty, not yet placed
