"""The live feed cut to one street (consumers/console/scope.py), on a district of two streets: what a street's
dispatcher gets of a snapshot and of a batch, each batch cut once per street, and what a cut costs (printed)."""

from __future__ import annotations

import random
import time

import pytest

from config.geometry import load_geometry
from consumers.console.scope import FeedScope
from schemas import json
from tests.support.two_streets import EAST, WEST, two_streets


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    return load_geometry(two_streets(tmp_path_factory.mktemp("feed-scope")), check_areas=False)


def picture(positions: dict, *, batch: bool) -> dict:
    incidents = [{"id": "inc-c01-1", "community": "c01"}, {"id": "inc-c08-1", "community": "c08"}]
    return {
        "alerts": [{"id": "a1", "street": EAST, "community": "c01"}, {"id": "a2", "street": WEST, "community": "c09"}],
        "incidents": {i["id"]: i for i in incidents} if batch else incidents,
        "positions": positions,
        "patrol": {device: "on_post" for device in positions},
    }


def test_a_street_gets_its_alerts_incidents_positions_and_patrol_only(two):
    positions = {"d-east": [39.9, 116.38, "c02", "c02-g01", "t"], "d-west": [39.9, 116.38, "c10", None, "t"]}
    scope = FeedScope(two, positions.get)
    for batch in (False, True):
        cut = scope.cut(picture(positions, batch=batch), EAST)
        assert [a["id"] for a in cut["alerts"]] == ["a1"] and list(cut["positions"]) == list(cut["patrol"]) == [
            "d-east"
        ]
        assert [i["id"] for i in (cut["incidents"].values() if batch else cut["incidents"])] == ["inc-c01-1"]
    everything = picture(positions, batch=True)
    assert scope.cut(everything, None) is everything


def test_a_batch_is_cut_once_per_street_and_nothing_of_it_is_none(two):
    positions = {"d-west": [39.9, 116.38, "c10", None, "t"]}
    scope = FeedScope(two, positions.get)
    batch = {"alerts": [], "incidents": {}, "positions": positions, "patrol": {}}
    assert scope.part(batch, EAST) is None
    first = scope.part(batch, WEST)
    assert json.loads(first)["positions"] == positions and scope.part(batch, WEST) is first


def test_what_a_cut_costs_with_2000_devices_moving(two):
    rng, communities = random.Random(7), list(two.communities)
    positions = {f"dev-{i:04d}": [39.9, 116.38, rng.choice(communities), None, "t"] for i in range(2000)}
    scope, batch = FeedScope(two, positions.get), picture(positions, batch=True)
    started = time.perf_counter()
    for _ in range(20):
        scope.part(dict(batch), EAST)
    print(f"\none street's part of a batch of 2,000 positions: {(time.perf_counter() - started) / 20 * 1000:.2f} ms")
