"""Placing 12345 orders in the sample street (pure): each way of placing, in its order of preference, and
the records an order becomes, checked against their published schemas."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from functools import lru_cache

import pytest

from config.hotline import load_hotline
from config.sample.district import district_path
from config.settings import Settings
from schemas.fields import FieldError
from schemas.hotline import HotlineOrder, LocatedHotlineOrder
from schemas.records import UNLOCATED, LocatedReport
from streams.geofence.registry import GridRegistry
from streams.hotline.placement import Placer, inner_point
from tests.support.factories import oracle_place, random_point
from tests.support.hotline import ADDRESS, OUTSIDE, PLAIN, T0, WORKING_CALENDAR, order


@lru_cache(maxsize=1)
def placer() -> Placer:
    return Placer(GridRegistry.from_settings(Settings.from_env()), load_hotline(), WORKING_CALENDAR)


def placed(record: dict) -> tuple[dict, dict]:
    p = placer()
    located = p.located_order(HotlineOrder.validate(record), p.place(record))
    return LocatedHotlineOrder.validate(located), LocatedReport.validate(p.report(located))


def test_an_order_with_a_location_inside_a_grid_is_placed_there_and_its_report_stands_on_that_point():
    located, report = placed(order("o-loc", location=PLAIN, platform_grid="c07-g01", address=ADDRESS[0]))
    assert (located["placed_by"], located["community"], located["grid"]) == ("location", "c03", "c03-g01")
    assert located["point"] == {"lat": PLAIN[0], "lng": PLAIN[1]} and located["cell"] == report["cell"]
    assert report["location"] == {"lat": PLAIN[0], "lng": PLAIN[1]}  # no accuracy: it is not a GPS fix
    assert (report["community"], report["grid"], report["placed_by"]) == ("c03", "c03-g01", "location")


def test_an_order_placed_by_a_point_inside_a_courtyard_carries_it_to_its_report():
    lng, lat = placer().registry.courtyards["c03-g01-y02"].centre
    located, report = placed(order("o-yard", location=(lat, lng), address=ADDRESS[0]))
    assert located["courtyard"] == report["courtyard"] == "c03-g01-y02" and report["grid"] == "c03-g01"
    located, report = placed(order("o-lane", location=PLAIN, address=ADDRESS[0]))  # between courtyards
    assert "courtyard" not in located and "courtyard" not in report


@pytest.mark.parametrize("named", ["c07-g02", "钟声社区第2网格", " 钟声社区 第2网格 "])
def test_a_named_grid_by_id_or_by_name_places_an_order_outside_or_without_a_location(named):
    located, report = placed(order("o-grid", location=OUTSIDE, platform_grid=named, platform_community="c01"))
    assert (located["placed_by"], located["community"], located["grid"]) == ("grid", "c07", "c07-g02")
    assert "cell" not in located  # an area's point is not where the matter is
    point = located["point"]
    assert oracle_place(point["lat"], point["lng"]) == ("c07", "c07-g02")
    assert (report["community"], report["grid"], report["placed_by"]) == ("c07", "c07-g02", "grid")


@pytest.mark.parametrize("named", ["c09", "西单北大街社区", "西单 北大街社区"])
def test_a_named_community_places_an_order_without_a_grid(named):
    located, report = placed(order("o-com", platform_grid="no-such-grid", platform_community=named))
    assert (located["placed_by"], located["community"], located.get("grid")) == ("community", "c09", None)
    assert oracle_place(located["point"]["lat"], located["point"]["lng"])[0] == "c09"
    assert report["community"] == "c09" and "grid" not in report


def test_an_address_in_the_table_places_an_order_at_its_point_whitespace_ignored():
    text, (lat, lng) = ADDRESS
    located, report = placed(order("o-addr", address=f" {text[:3]} {text[3:]}"))
    community, grid = oracle_place(lat, lng)
    assert (located["placed_by"], located["community"], located["grid"]) == ("address", community, grid)
    assert located["point"] == {"lat": lat, "lng": lng} and located["cell"] == report["cell"]


def test_an_order_placed_by_nothing_goes_to_the_streets_unlocated_queue():
    located, report = placed(order("o-none", location=OUTSIDE, platform_community="某某社区", address="无此地址"))
    assert (located["placed_by"], located["community"]) == ("unlocated", UNLOCATED)
    assert "point" not in located and "grid" not in located and "cell" not in located
    assert "community" not in report and "grid" not in report and report["street"] == "xichangan"


def test_the_report_carries_the_order_its_category_severity_and_limits():
    located, report = placed(order("o-rec", location=PLAIN, code="0201", urgency="emergency"))
    assert located["category"] == report["category"] == "group_renting"
    assert (report["id"], report["device"], report["order"]) == ("12345-o-rec", "12345", "o-rec")
    assert report["severity"] == "high" and report["text"] == located["content"]
    assert report["event_time"] == located["dispatched_at"] == T0.isoformat()
    assert located["limits"]["resolve_by"] == "2026-11-02T03:00:00+00:00"  # emergency: 2 h
    assert located["report"] == report["id"]


def test_every_area_point_lies_inside_its_area():
    p = placer()
    for grid in p.registry.grids.values():
        assert oracle_place(*p.points[grid.id])[1] == grid.id
    for community in p.registry.communities.values():
        assert oracle_place(*p.points[community.id])[0] == community.id
    assert oracle_place(*inner_point(p.registry.street, p.registry))[1] is not None


def test_orders_at_random_points_are_placed_where_an_independent_point_in_polygon_test_puts_them():
    rng = random.Random(15)
    for n in range(300):
        lat, lng = random_point(rng, inside=n % 3 != 0)
        p = placer().place(order(f"o-{n}", location=(lat, lng)))
        community, grid = oracle_place(lat, lng)
        expected = ("location", community, grid) if grid else ("unlocated", UNLOCATED, None)
        assert (p.placed_by, p.community, p.grid) == expected, (lat, lng)


def test_an_order_dispatched_in_a_year_the_calendar_does_not_know_is_refused_naming_dispatched_at():
    record = order("o-2000", at=datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(FieldError) as refused:
        placed(record)
    assert refused.value.field == "dispatched_at" and "does not know 2000" in refused.value.reason


def test_in_a_district_an_order_takes_its_places_street_and_an_unplaced_one_the_districts_queue():
    registry = GridRegistry.load(district_path(2))
    p = Placer(registry, load_hotline(), WORKING_CALENDAR)
    east = next(g for g in registry.grids.values() if registry.communities[g.parent].parent == "xinjiekou")
    lng, lat = east.centre
    for record, street in (
        (order("o-east", location=(lat, lng)), "xinjiekou"),
        (order("o-east-grid", platform_grid=east.id), "xinjiekou"),
        (order("o-nowhere", location=OUTSIDE, address="无此地址"), "xicheng"),
    ):
        located = LocatedHotlineOrder.validate(p.located_order(HotlineOrder.validate(record), p.place(record)))
        assert located["street"] == street and LocatedReport.validate(p.report(located))["street"] == street
