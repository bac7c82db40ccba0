"""The device_to_patrol_state table: its compact changelog value, one record per device per batch and only
on a status change, and the rebuild that takes the newer of the recovered changelog and Postgres."""

from __future__ import annotations

from datetime import timedelta

from config.settings import Settings
from schemas import json
from streams.patrol.detector import DeviceState
from streams.patrol.gps_quality import Fix
from streams.patrol.monitor import PatrolMonitor
from streams.patrol.table import decode, encode, newest
from tests.support.clock import ManualClock
from tests.support.patrol import GRID, T0, batch, monitor, registry


def test_the_changelog_value_is_compact_and_round_trips_to_the_microsecond():
    s = DeviceState("dev-1", GRID, "on_post", T0, Fix(T0 + timedelta(seconds=3), 39.9, 116.37, 4.5), GRID, T0)
    value = encode(s)
    assert len(value) < 120
    back = decode("dev-1", value)
    assert (back.grid, back.status, back.since, back.last, back.current_grid, back.duty_since) == (
        GRID,
        "on_post",
        T0,
        s.last,
        GRID,
        T0,
    )


def test_one_changelog_record_per_device_per_batch_and_none_without_a_status_change():
    m = monitor()
    outs = m.positions(batch("dev-1", 0, 1, 2), partition=3) + m.positions(batch("dev-2", 0), partition=1)
    assert [o.value for o in outs if b'"status"' in o.value]  # shift_started and first_fix_inside went out
    records = m.changelog_records()
    assert sorted((o.key, o.partition) for o in records) == [(b'"dev-1"', 3), (b'"dev-2"', 1)]
    assert decode("dev-1", records[0].value).status == "on_post"
    m.positions(batch("dev-1", 3, 4), partition=3)
    assert m.changelog_records() == []  # a position alone is no durable change


def test_a_tick_change_goes_to_the_partition_of_the_device():
    m = monitor()
    m.positions(batch("dev-1", 0), partition=3)
    m.changelog_records()
    m.tick(["dev-1"], T0 + timedelta(seconds=400))  # silent past the offline threshold
    [record] = m.changelog_records()
    assert record.partition == 7 and decode("dev-1", record.value).status == "offline"


def test_the_state_lives_once_in_the_store_it_is_given():
    store: dict = {}
    m = PatrolMonitor(Settings.from_env(), registry(), ManualClock(T0), store, "changelog")
    m.roster = monitor().roster
    m.positions(batch("dev-1", 0))
    assert m.states is store and type(store["dev-1"]) is DeviceState


def test_rebuild_takes_the_newer_of_the_recovered_changelog_and_postgres():
    m = monitor(("dev-1", "dev-2", "dev-3"))
    fix = Fix(T0, 39.9, 116.37, 5.0)
    # dev-1: the changelog is ahead of the sink; dev-2: Postgres is ahead (recovery stopped early).
    m.states["dev-1"] = encode(DeviceState("dev-1", GRID, "off_post", T0 + timedelta(seconds=200), fix, "c09-g02"))
    m.states["dev-2"] = encode(DeviceState("dev-2", GRID, "unknown", T0, None))
    later = {
        "fix_time": T0 + timedelta(seconds=250),
        "lat": 39.91,
        "lng": 116.38,
        "accuracy": 4.0,
        "current_grid": GRID,
    }
    rows = [
        {"device": "dev-1", "status": "on_post", "since": T0, **later},
        {"device": "dev-2", "status": "on_post", "since": T0 + timedelta(seconds=5), **later},
        {
            "device": "dev-3",
            "status": "offline",
            "since": T0,
            "fix_time": None,
            "lat": None,
            "lng": None,
            "accuracy": None,
            "current_grid": None,
        },
    ]
    missing = m.unsettled(["dev-1", "dev-2", "dev-3"])
    assert missing == ["dev-1", "dev-2", "dev-3"]
    m.restore(missing, rows)
    one, two, three = (m.states[d] for d in ("dev-1", "dev-2", "dev-3"))
    assert (one.status, one.since, one.last.time) == ("off_post", T0 + timedelta(seconds=200), later["fix_time"])
    assert (two.status, two.since) == ("on_post", T0 + timedelta(seconds=5))
    assert (three.status, three.last) == ("offline", None)
    assert m.unsettled(["dev-1", "dev-2", "dev-3"]) == []


def test_newest_keeps_the_later_fix_whichever_status_wins():
    old_fix, new_fix = Fix(T0, 39.9, 116.37, 5.0), Fix(T0 + timedelta(seconds=9), 39.9, 116.37, 5.0)
    a = DeviceState("d", GRID, "on_post", T0 + timedelta(seconds=5), old_fix, GRID)
    b = DeviceState("d", GRID, "unknown", T0, new_fix, "c09-g02")
    kept = newest(b, a)
    assert kept is a and kept.last == new_fix and kept.current_grid == "c09-g02"


def test_a_changelog_value_of_another_format_is_ignored_and_the_device_starts_afresh():
    m = monitor()
    m.states["dev-1"] = json.dumps({"status": "on_post", "since": T0.isoformat()})  # the old dict value
    m.restore(m.unsettled(["dev-1"]), [])
    assert type(m.states["dev-1"]) is bytes  # neither source had a state: it starts with its next fix
    m.positions(batch("dev-1", 0))
    assert m.states["dev-1"].status == "on_post"
