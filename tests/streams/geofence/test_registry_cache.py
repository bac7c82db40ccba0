"""The grid registry's indexes kept between starts (streams/geofence/registry_cache.py): the kept ones answer
exactly as the built ones, a spoiled file or a changed map builds afresh, and a folder others may write to is
never read."""

from __future__ import annotations

import logging
import random

import pytest

from config.settings import Settings
from streams.geofence import registry_cache
from streams.geofence.registry import GridRegistry

SETTINGS = Settings.from_env()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "redwall" / "registry"


def built_calls(monkeypatch) -> list[int]:
    calls, build = [], GridRegistry.build.__func__

    def counting(cls, geometry, resolution=12):
        calls.append(resolution)
        return build(cls, geometry, resolution)

    monkeypatch.setattr(GridRegistry, "build", classmethod(counting))
    return calls


def test_the_kept_indexes_answer_as_the_built_ones_and_a_spoiled_file_is_built_again(cache, monkeypatch, caplog):
    calls, path = built_calls(monkeypatch), SETTINGS.geometry_path
    built = GridRegistry.load(path, 12)
    [kept_file] = cache.iterdir()
    assert calls == [12] and oct(cache.stat().st_mode & 0o777) == "0o700"
    kept = GridRegistry.load(path, 12)
    assert calls == [12] and kept.stats() == built.stats()
    rng = random.Random(18)
    for _ in range(2000):  # the street's box and a little beyond: inside, on borders, outside
        lat, lng = rng.uniform(39.885, 39.925), rng.uniform(116.345, 116.405)
        assert kept.locate(lat, lng) == built.locate(lat, lng)
    kept_file.write_bytes(b"not a pickle")
    with caplog.at_level(logging.WARNING):
        GridRegistry.load(path, 12)
    assert calls == [12, 12] and "unreadable" in caplog.text
    assert registry_cache.load(path, 12) is not None  # kept again


def test_a_changed_map_or_resolution_is_another_key(tmp_path):
    path = SETTINGS.geometry_path
    copy = tmp_path / "street.geojson"
    copy.write_bytes(path.read_bytes() + b"\n")
    assert len({registry_cache.key(path, 12), registry_cache.key(copy, 12), registry_cache.key(path, 11)}) == 3


def test_a_folder_others_may_write_to_is_never_read(cache, caplog):
    registry_cache.store(SETTINGS.geometry_path, 12, ({}, {}))
    assert registry_cache.load(SETTINGS.geometry_path, 12) == ({}, {})
    cache.chmod(0o777)
    with caplog.at_level(logging.WARNING):
        assert registry_cache.load(SETTINGS.geometry_path, 12) is None
    assert "others may write" in caplog.text
