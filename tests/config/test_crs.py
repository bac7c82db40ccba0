"""GCJ-02 and BD-09 to WGS 84 against point pairs published with other implementations."""

from __future__ import annotations

import pytest

from config.crs import (
    METRES_PER_DEGREE,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    metres_per_degree_lng,
    wgs84_to_gcj02,
)
from config.rings import ring_area_m2

# (WGS 84, GCJ-02) as (lng, lat): the test vectors of eviltransform (Beijing, Shanghai, Shenzhen) and of
# coordtransform (Beijing), computed with the published formulas.
FORMULA_PAIRS = [
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
]
# (WGS 84, GCJ-02, BD-09) of city centres as the map providers give them (gcoord's fixture): the
# published formulas match the providers to about half a metre.
PROVIDER_TRIPLES = [
    ((116.8330366, 38.3039089), (116.8388422, 38.3044822), (116.8454238, 38.3102948)),
    ((123.4253306, 41.8032629), (123.4314787, 41.8057023), (123.438095, 41.8114013)),
    ((114.0164322, 33.0133556), (114.022306, 33.0115324), (114.0287781, 33.0176697)),
]


@pytest.mark.parametrize("wgs, gcj", FORMULA_PAIRS)
def test_wgs84_to_gcj02_gives_the_published_pairs(wgs, gcj):
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)


@pytest.mark.parametrize("wgs, gcj", FORMULA_PAIRS)
def test_gcj02_to_wgs84_inverts_to_under_a_millimetre(wgs, gcj):
    assert gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=1e-8)


def test_bd09_and_gcj02_give_the_published_pair():
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-9)
    # The published inverse is off by up to 1e-6 degrees; ours is refined until the forward transform agrees.
    assert bd09_to_gcj02(116.404, 39.915) == pytest.approx((116.39762729119315, 39.90865673957631), abs=2e-6)
    assert gcj02_to_bd09(*bd09_to_gcj02(116.404, 39.915)) == pytest.approx((116.404, 39.915), abs=1e-9)


@pytest.mark.parametrize("wgs, gcj, bd", PROVIDER_TRIPLES)
def test_provider_coordinates_come_back_to_wgs84_within_a_metre(wgs, gcj, bd):
    metre = 1 / 111_320
    assert gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=metre)
    assert bd09_to_wgs84(*bd) == pytest.approx(wgs, abs=metre)
    assert gcj02_to_bd09(*gcj) == pytest.approx(bd, abs=1e-6)


def test_outside_china_nothing_moves():
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)


def test_a_degree_of_longitude_shrinks_with_the_cosine_of_latitude():
    assert metres_per_degree_lng(0) == METRES_PER_DEGREE
    assert metres_per_degree_lng(60) == pytest.approx(METRES_PER_DEGREE / 2)
    assert metres_per_degree_lng(39.91) == pytest.approx(85_388, abs=1)  # the street, in Beijing


def test_a_ring_area_is_on_the_same_scale():
    # A square 100 m a side in the street, by the scale itself.
    lat, lng = 39.91, 116.37
    east, north = 100 / metres_per_degree_lng(lat), 100 / METRES_PER_DEGREE
    square = ((lng, lat), (lng + east, lat), (lng + east, lat + north), (lng, lat + north), (lng, lat))
    assert ring_area_m2(square) == pytest.approx(10_000, rel=1e-6)
