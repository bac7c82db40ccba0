"""GPS quality: teleports, duplicates, out-of-order, poor accuracy and clock skew are refused, by reason."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from config.crs import METRES_PER_DEGREE, metres_per_degree_lng
from streams.patrol.gps_quality import Fix, Quality, distance_m

T0 = datetime(2027, 3, 5, 1, 0, tzinfo=UTC)
Q = Quality(max_accuracy_m=50, max_speed_mps=50, future=timedelta(seconds=120), max_age=timedelta(seconds=900))


def split(fixes: list[Fix], last: Fix | None, now: datetime) -> tuple[list[Fix], list[tuple[Fix, str]]]:
    """A device's fixes (in upload order) as good ones and (fix, reason) refusals, each judged against the
    last good fix before it, as the patrol agent judges an uploaded batch."""
    good, refused = [], []
    for fix in fixes:
        reason = Q.check(fix, last, now)
        if reason is None:
            good.append(fix)
            last = fix
        else:
            refused.append((fix, reason))
    return good, refused


def at(second: float, north_m: float = 0.0, accuracy: float = 5.0) -> Fix:
    return Fix(T0 + timedelta(seconds=second), 39.91 + north_m / METRES_PER_DEGREE, 116.37, accuracy)


def test_a_walk_is_all_good():
    fixes = [at(s, north_m=1.3 * s) for s in range(0, 60, 3)]
    good, refused = split(fixes, None, T0 + timedelta(seconds=60))
    assert good == fixes and refused == []


def test_teleport_is_refused_and_the_walk_goes_on_from_the_last_good_fix():
    fixes = [at(0), at(3, 4), at(6, 5_000), at(9, 10)]  # 5 km in 3 s, then back where it was
    good, refused = split(fixes, None, T0 + timedelta(seconds=10))
    assert refused == [(fixes[2], "impossible_speed")]
    assert good == [fixes[0], fixes[1], fixes[3]]


def test_a_long_gap_allows_a_long_move():
    assert Q.check(at(600, 5_000), at(0), T0 + timedelta(seconds=600)) is None  # 8 m/s: a bus


def test_duplicate_and_out_of_order_fixes_are_refused():
    fixes = [at(0), at(10), at(10), at(5), at(20)]
    good, refused = split(fixes, None, T0 + timedelta(seconds=20))
    assert [r for _, r in refused] == ["duplicate", "out_of_order"]
    assert good == [fixes[0], fixes[1], fixes[4]]
    # A replay of fixes already applied is refused too, against the last good fix carried over.
    assert split(fixes[:2], fixes[4], T0 + timedelta(seconds=20))[0] == []


def test_poor_accuracy_and_clock_skew_are_refused():
    now = T0 + timedelta(hours=1)
    fixes = [at(3600 - 30, accuracy=80), at(3600 + 121), at(3600 - 901), at(3600 - 1)]
    good, refused = split(fixes, None, now)
    assert Counter(r for _, r in refused) == {"poor_accuracy": 1, "future": 1, "stale": 1}
    assert good == [fixes[3]]


def test_without_a_clock_reading_only_the_clock_checks_are_skipped():
    assert Q.check(at(10**6), None, None) is None
    assert Q.check(at(0, accuracy=500), None, None) == "poor_accuracy"


def test_a_distance_is_on_the_one_scale_of_degrees_in_metres():
    east = 100 / metres_per_degree_lng(39.91)
    assert distance_m(at(0), Fix(T0, 39.91 + 100 / METRES_PER_DEGREE, 116.37 + east, 5.0)) == pytest.approx(
        100 * 2**0.5, abs=0.01
    )
