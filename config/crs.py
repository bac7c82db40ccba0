"""Chinese map coordinates to WGS 84: GCJ-02 (Amap, Tencent, most Chinese phone SDKs) and BD-09 (Baidu);
and degrees in metres, the one scale every distance and area in Redwall uses.

The forward transforms are the published ones (Krasovsky ellipsoid, the two polynomial-and-sine
offsets); GCJ-02 has no closed inverse, so `gcj02_to_wgs84` inverts the forward transform by fixed-point
iteration to under a millimetre (one step, as many libraries do, leaves up to ~1-2 m), and so is the
published BD-09 inverse refined (it alone is off by up to 10 cm). Outside China
both systems equal WGS 84. Points are (lng, lat) in degrees, as in GeoJSON.
"""

from __future__ import annotations

import math

CRS_NAMES = ("wgs84", "gcj02", "bd09")
_A = 6378245.0  # Krasovsky 1940 semi-major axis, metres
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0
_INVERSE_STEPS = 10
_INVERSE_TOLERANCE = 1e-10  # degrees: about 0.01 mm
METRES_PER_DEGREE = 111_320.0  # of latitude everywhere, and of longitude at the equator


def metres_per_degree_lng(lat: float) -> float:
    """Metres per degree of longitude at latitude `lat` (a parallel shrinks with its cosine). With
    METRES_PER_DEGREE for latitude it is the equirectangular scale: exact enough across a street of a
    few kilometres, and cheap enough for every ping."""
    return METRES_PER_DEGREE * math.cos(math.radians(lat))


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Equirectangular distance in metres: exact enough below a few kilometres, and cheap."""
    dy = (lat2 - lat1) * METRES_PER_DEGREE
    dx = (lng2 - lng1) * metres_per_degree_lng((lat1 + lat2) / 2)
    return math.hypot(dx, dy)


def out_of_china(lng: float, lat: float) -> bool:
    """The published bounding box outside which GCJ-02 applies no offset."""
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _offset_lat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _offset_lng(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    if out_of_china(lng, lat):
        return lng, lat
    d_lat, d_lng = _offset_lat(lng - 105.0, lat - 35.0), _offset_lng(lng - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    d_lat = d_lat * 180.0 / ((_A * (1 - _EE)) / (magic * math.sqrt(magic)) * math.pi)
    d_lng = d_lng * 180.0 / (_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return lng + d_lng, lat + d_lat


def gcj02_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    """The WGS 84 point whose GCJ-02 transform is (lng, lat)."""
    return _inverse(wgs84_to_gcj02, lng, lat, (lng, lat))


def _inverse(forward, lng: float, lat: float, guess: tuple[float, float]) -> tuple[float, float]:
    """The point `forward` takes to (lng, lat): the offsets vary slowly, so subtracting the error found at
    the current guess converges in two or three steps."""
    guess_lng, guess_lat = guess
    for _ in range(_INVERSE_STEPS):
        fwd_lng, fwd_lat = forward(guess_lng, guess_lat)
        d_lng, d_lat = fwd_lng - lng, fwd_lat - lat
        guess_lng, guess_lat = guess_lng - d_lng, guess_lat - d_lat
        if abs(d_lng) < _INVERSE_TOLERANCE and abs(d_lat) < _INVERSE_TOLERANCE:
            break
    return guess_lng, guess_lat


def gcj02_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    z = math.hypot(lng, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def bd09_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    """The published inverse of `gcj02_to_bd09` (off by up to ~1e-6 degrees, 10 cm), refined like GCJ-02's."""
    x, y = lng - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return _inverse(gcj02_to_bd09, lng, lat, (z * math.cos(theta), z * math.sin(theta)))


def bd09_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lng, lat))


TO_WGS84 = {"wgs84": lambda lng, lat: (lng, lat), "gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
