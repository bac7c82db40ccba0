"""The dwell rule (streams/tasks/arrival.py) against hand-computed answers, with the sample rule: dwell 60 s,
radius 30 m, accuracy widening the radius by at most 25 m, fixes worse than 50 m ignored, a gap of 120 s."""

from __future__ import annotations

from datetime import timedelta

from streams.tasks.arrival import Dwell
from tests.streams.tasks.book_factories import CENTRE, COURTYARD, RULES, bj, fix

T0 = bj("2026-12-08 10:00")


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def dwell(courtyard: str | None = None, since=T0) -> Dwell:
    place = {"location": CENTRE, "radius_m": 30, **({"courtyard": courtyard} if courtyard else {})}
    return Dwell(place, since, RULES.arrival)


def feed(d: Dwell, *fixes: tuple[float, dict]) -> list:
    """What each fix answers, fed in order: None, or the arrival time."""
    return [d.feed(f, at(s)) for s, f in fixes]


def test_a_fix_the_geofence_put_in_the_tasks_courtyard_is_inside_wherever_it_lies():
    d = dwell(COURTYARD)
    assert d.inside(fix(at(0), 200, courtyard=COURTYARD), at(0)) is True
    assert d.inside(fix(at(0), 200, courtyard="c01-g01-y002"), at(0)) is False
    assert d.inside(fix(at(0), 200), at(0)) is False
    assert dwell().inside(fix(at(0), 200, courtyard=COURTYARD), at(0)) is False  # a point task has no courtyard
    assert d.inside(fix(at(0), 10), at(0)) is True  # the courtyard's centre and radius count too


def test_the_radius_is_widened_by_the_fixs_accuracy_up_to_the_cap():
    d = dwell()
    # 30 m + 20 m of accuracy: 49.9 m is inside; with 19 m of accuracy the reach is 49 m.
    assert d.inside(fix(at(0), 49.9, accuracy=20), at(0)) is True
    assert d.inside(fix(at(0), 49.9, accuracy=19), at(0)) is False
    # 45 m of accuracy widens by the cap, 25 m: 54.9 m inside, 55.1 m not.
    assert d.inside(fix(at(0), 54.9, accuracy=45), at(0)) is True
    assert d.inside(fix(at(0), 55.1, accuracy=45), at(0)) is False
    assert d.inside(fix(at(0), 29.9, accuracy=0), at(0)) is True


def test_a_fix_of_poor_accuracy_counts_neither_inside_nor_out():
    d = dwell(COURTYARD)
    assert d.inside(fix(at(0), 0, accuracy=51, courtyard=COURTYARD), at(0)) is None
    assert d.inside(fix(at(0), 0, accuracy=50), at(0)) is True
    # Between two inside fixes a poor one far away breaks nothing: arrival at the first, 60 s on.
    assert feed(d, (0, fix(at(0))), (30, fix(at(30), 500, accuracy=80)), (60, fix(at(60)))) == [None, None, T0]
    # Nor does a poor fix start a run.
    d = dwell()
    assert feed(d, (0, fix(at(0), accuracy=60)), (30, fix(at(30))), (60, fix(at(60)))) == [None, None, None]
    assert d.feed(fix(at(90)), at(90)) == at(30)


def test_a_gap_longer_than_allowed_starts_the_run_again():
    d = dwell()
    assert feed(d, (0, fix(at(0))), (121, fix(at(121))), (180, fix(at(180)))) == [None, None, None]
    assert d.feed(fix(at(181)), at(181)) == at(121)
    # A gap of exactly 120 s keeps the run.
    assert feed(dwell(), (0, fix(at(0))), (120, fix(at(120)))) == [None, T0]


def test_an_outside_fix_breaks_the_run():
    d = dwell()
    fixes = [(0, fix(at(0))), (30, fix(at(30), 80)), (60, fix(at(60))), (100, fix(at(100)))]
    assert feed(d, *fixes) == [None, None, None, None]
    assert d.feed(fix(at(120)), at(120)) == at(60)


def test_fixes_before_the_task_was_created_do_not_count():
    d = dwell(since=at(60))
    assert feed(d, (0, fix(at(0))), (30, fix(at(30))), (90, fix(at(90)))) == [None, None, None]
    assert d.feed(fix(at(150)), at(150)) == at(90)


def test_the_arrival_is_the_runs_first_fix_once_the_dwell_is_exactly_reached():
    d = dwell()
    assert feed(d, (0, fix(at(0))), (30, fix(at(30))), (59.999, fix(at(59.999)))) == [None, None, None]
    assert d.feed(fix(at(60)), at(60)) == T0


def test_a_fix_older_than_one_looked_at_is_ignored():
    d = dwell()
    assert feed(d, (0, fix(at(0))), (40, fix(at(40))), (20, fix(at(20), 80))) == [None, None, None]
    assert d.feed(fix(at(60)), at(60)) == T0  # the late outside fix broke nothing
