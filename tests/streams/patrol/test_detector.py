"""The patrol detector with time travel: each transition, grace and dwell, edge jitter, offline."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from config.crs import METRES_PER_DEGREE
from streams.patrol.detector import FAR, INSIDE, NEAR, Detector, DeviceState, Rules
from streams.patrol.gps_quality import Fix, Quality
from tests.support.patrol import GRID, far_outside, inside, polygon, registry

T0 = datetime(2027, 3, 5, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
SHIFT_END = T0 + timedelta(hours=8)
RULES = Rules(
    grace=timedelta(seconds=120), dwell=timedelta(seconds=60), offline=timedelta(seconds=300), edge_buffer_m=5
)


def on_duty(device: str, when: datetime) -> bool:
    return T0 <= when < SHIFT_END


def detector() -> Detector:
    return Detector(RULES, on_duty, registry())


def fix(second: float, where: tuple[float, float], accuracy: float = 5.0) -> Fix:
    return Fix(T0 + timedelta(seconds=second), where[0], where[1], accuracy)


def feed(d: Detector, s: DeviceState, fixes: list[Fix]) -> list[tuple[str, float, str]]:
    """(status, seconds after T0, reason) of every change the fixes cause."""
    changes = []
    for f in fixes:
        changes += d.detect(s, f, f.time, registry().locate(f.lat, f.lng).grid)
    return [(c.status, (c.at - T0).total_seconds(), c.reason) for c in changes]


def tick(d: Detector, s: DeviceState, second: float) -> list[tuple[str, float, str]]:
    return [
        (c.status, (c.at - T0).total_seconds(), c.reason) for c in d.detect(s, None, T0 + timedelta(seconds=second))
    ]


def test_first_fix_inside_puts_the_device_on_post():
    d, s = detector(), DeviceState("dev-1", GRID)
    assert feed(d, s, [fix(0, inside())]) == [("unknown", 0, "shift_started"), ("on_post", 0, "first_fix_inside")]
    assert s.last.time == T0 and s.current_grid == GRID


def test_off_post_only_after_the_grace_period_and_back_only_after_the_dwell():
    d, s = detector(), DeviceState("dev-1", GRID)
    feed(d, s, [fix(0, inside())])
    assert feed(d, s, [fix(s_, far_outside()) for s_ in range(10, 130, 10)]) == []  # 110 s < grace
    assert feed(d, s, [fix(130, far_outside())]) == [("off_post", 130, "outside_grid")]  # 10 + 120
    assert feed(d, s, [fix(s_, inside()) for s_ in range(140, 200, 10)]) == []  # 50 s < dwell
    assert feed(d, s, [fix(200, inside())]) == [("on_post", 200, "back_inside")]


def test_a_short_trip_outside_changes_nothing():
    d, s = detector(), DeviceState("dev-1", GRID)
    trip = [fix(0, inside())] + [fix(t, far_outside()) for t in (10, 60, 100)] + [fix(110, inside())]
    feed(d, s, trip)
    assert feed(d, s, [fix(t, far_outside()) for t in (120, 200)]) == []  # a new trip, its own grace
    assert s.status == "on_post"


def test_the_grace_period_ends_on_a_tick_when_no_fix_comes():
    d, s = detector(), DeviceState("dev-1", GRID)
    feed(d, s, [fix(0, inside()), fix(30, far_outside())])
    assert tick(d, s, 149) == []
    assert tick(d, s, 400) == [("off_post", 150, "outside_grid"), ("offline", 330, "silent")]


def test_offline_after_silence_and_back_online():
    d, s = detector(), DeviceState("dev-1", GRID)
    feed(d, s, [fix(0, inside())])
    assert tick(d, s, 299) == []
    assert tick(d, s, 301) == [("offline", 300, "silent")]
    assert tick(d, s, 900) == []
    assert feed(d, s, [fix(1000, inside())]) == [("on_post", 1000, "back_online")]


def test_silence_noticed_only_when_the_device_comes_back_still_reports_the_offline_spell():
    d, s = detector(), DeviceState("dev-1", GRID)
    feed(d, s, [fix(0, inside())])
    assert feed(d, s, [fix(1000, far_outside())]) == [("offline", 300, "silent"), ("off_post", 1000, "back_online")]


def test_a_device_that_never_reports_goes_offline_from_the_shift_start():
    d, s = detector(), DeviceState("dev-1", GRID)
    assert tick(d, s, 0) == [("unknown", 0, "shift_started")]
    assert tick(d, s, 400) == [("offline", 300, "silent")]


def test_off_duty_at_shift_end_and_no_deadline_after_it():
    d, s = detector(), DeviceState("dev-1", GRID)
    last = 8 * 3600 - 100  # the offline deadline would fall after the shift end
    feed(d, s, [fix(0, inside()), fix(last, inside())])
    assert tick(d, s, 8 * 3600 + 600) == [("off_duty", 8 * 3600 + 600, "shift_ended")]
    assert tick(d, s, 8 * 3600 + 6000) == []
    before = fix(-600, inside())
    s2 = DeviceState("dev-2", GRID)
    assert feed(d, s2, [before]) == [] and s2.status == "off_duty" and s2.last == before


def test_hysteresis_uses_the_accuracy_and_the_buffer():
    d = detector()
    lat, lng = inside()
    assert d.side(GRID, fix(0, (lat, lng)), GRID) == INSIDE
    edge_lng, edge_lat = polygon(GRID).exterior.coords[0]
    just_out = (edge_lat, edge_lng)  # on the edge: as near as it gets
    assert d.side(GRID, fix(0, just_out), None) == NEAR
    assert d.side(GRID, fix(0, far_outside(), accuracy=5), "c09-g02") == FAR


def test_walking_along_the_edge_with_5_m_noise_never_flaps():
    """An hour of fixes every 5 s along the grid's edge, each with 5 m of Gaussian noise."""
    rng = random.Random(4)
    d, s = detector(), DeviceState("dev-1", GRID)
    feed(d, s, [fix(0, inside())])
    coords = list(polygon(GRID).exterior.coords)
    (x0, y0), (x1, y1) = coords[0], coords[1]
    quality, last, changes = Quality(), s.last, []
    for k in range(1, 720):
        t = (k % 100) / 100
        lat, lng = y0 + (y1 - y0) * t, x0 + (x1 - x0) * t
        lat += rng.gauss(0, 5) / METRES_PER_DEGREE
        lng += rng.gauss(0, 5) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
        f = fix(5 * k, (lat, lng), accuracy=5.0)
        if quality.check(f, last, f.time) is None:
            last = f
            changes += feed(d, s, [f])
    assert changes == []
    assert s.status == "on_post"


@pytest.mark.parametrize("bad", ["teleport", "duplicate", "out_of_order"])
def test_bad_fixes_filtered_by_quality_never_move_the_state(bad):
    d, s, quality = detector(), DeviceState("dev-1", GRID), Quality()
    feed(d, s, [fix(0, inside()), fix(100, inside())])
    wrong = {
        "teleport": fix(101, far_outside()),
        "duplicate": fix(100, far_outside()),
        "out_of_order": fix(50, far_outside()),
    }[bad]
    assert quality.check(wrong, s.last, wrong.time) in ("impossible_speed", "duplicate", "out_of_order")
    assert tick(d, s, 250) == [] and s.status == "on_post"


def test_a_tick_ahead_of_the_fixes_never_makes_time_run_backwards():
    d, s = detector(), DeviceState("dev-1", GRID)
    assert tick(d, s, 30) == [("unknown", 30, "shift_started")]  # the clock moved on by other devices
    assert feed(d, s, [fix(0, inside())]) == [("on_post", 30, "first_fix_inside")]


def test_fixes_stamped_before_the_shift_end_arriving_after_it_do_not_restart_the_duty():
    """The timer ends the shift by wall time; a late batch with fixes taken just before the end must not
    start the duty again (off_duty, unknown, on_post, off_duty within a second, as was seen)."""
    d, s = detector(), DeviceState("dev-1", GRID)
    end = 8 * 3600
    feed(d, s, [fix(end - 60, inside())])
    assert tick(d, s, end + 0.4) == [("off_duty", end + 0.4, "shift_ended")]
    assert feed(d, s, [fix(end - 2, inside()), fix(end - 1, inside())]) == []
    assert tick(d, s, end + 1) == [] and s.status == "off_duty"
    assert s.last.time == T0 + timedelta(seconds=end - 1)  # still the last position known
