"""The demo's 12345 feed (pure): a street's month of orders at the rate and in the mixes a street sees, each
followed by its events in order, every record one the worker takes, the same under the same seed."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from config.hotline import load_hotline, normalise_address
from config.settings import Settings
from schemas.hotline import CONTACT_HASH, MASKED_CONTACT, HotlineEvent, HotlineOrder, check_event
from streams.demo import day as demo_day
from streams.demo.hotline_feed import DEMO_KEY, HotlineFeed
from streams.geofence.registry import GridRegistry
from tests.support.hotline import WORKING_CALENDAR

SETTINGS = Settings()
REGISTRY = GridRegistry.from_settings(SETTINGS)
START = datetime(2026, 12, 6, 0, 30, tzinfo=UTC)
ORDERS = 900  # three of a street's months: three demo months of 30 days


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return load_hotline(demo_day.compressed_hotline(SETTINGS.hotline_path, tmp_path_factory.mktemp("h") / "h.toml"))


def feed(config, seed: int = 7) -> HotlineFeed:
    return HotlineFeed(
        REGISTRY,
        config,
        WORKING_CALENDAR,
        START,
        per_minute=demo_day.HOTLINE_ORDERS_PER_MINUTE,
        compression=demo_day.COMPRESSION,
        seed=seed,
    )


def first_orders(config, n: int = ORDERS, seed: int = 7) -> list:
    """The first n orders and every event of theirs: the feed runs on until the last of them is settled
    (the longest life, a complex order extended and called back, spans fewer than 1,000 later orders)."""
    played, mine, seen = [], set(), 0
    for post in feed(config, seed).posts():
        if post.kind == "order":
            seen += 1
            if seen > n + 1000:
                break
            if seen <= n:
                mine.add(post.order)
        played.append(post)
    return [p for p in played if p.order in mine]


@pytest.fixture(scope="module")
def posts(config):
    return first_orders(config)


def orders(posts) -> list[dict]:
    return [p.body for p in posts if p.kind == "order"]


def events(posts, kind: str) -> list[dict]:
    return [p.body for p in posts if p.kind == kind]


def share(part, whole) -> float:
    return len(part) / len(whole)


def test_a_street_month_at_the_demo_rate_starting_as_the_demo_starts(config, posts):
    placed = orders(posts)
    assert placed[0]["dispatched_at"] == START.isoformat(timespec="milliseconds")
    last = datetime.fromisoformat(placed[-1]["dispatched_at"])
    per_minute = len(placed) / ((last - START).total_seconds() / 60)
    assert per_minute == pytest.approx(demo_day.HOTLINE_ORDERS_PER_MINUTE, rel=0.1)
    assert len({o["id"] for o in placed}) == ORDERS


def test_every_record_is_one_the_worker_takes(posts):
    for post in posts:
        if post.kind == "order":
            assert HotlineOrder.validate(post.body) == post.body
            assert post.path == "/v1/hotline/orders"
        else:
            assert "order" not in post.body and "type" not in post.body  # the path names the order
            check_event(HotlineEvent.validate({**post.body, "type": "event", "order": post.order}))
            assert post.path == f"/v1/hotline/orders/{post.order}/events"
            assert post.body["id"].startswith(post.order)
    assert len({p.body["id"] for p in posts if p.kind != "order"}) == len(posts) - ORDERS


def test_events_come_after_their_order_in_their_order_and_posts_come_when_due(config, posts):
    ranked = {"order": 0, "contacted": 1, "extended": 2, "returned": 3, "closed": 3, "callback": 4}
    by_order = defaultdict(list)
    played = list(itertools.islice(feed(config).posts(), 3000))
    assert [p.at for p in played] == sorted(p.at for p in played)
    for post in played:
        by_order[post.order].append(post)
    for order, steps in by_order.items():
        assert steps[0].kind == "order", order
        assert [ranked[s.kind] for s in steps] == sorted(ranked[s.kind] for s in steps), order
        assert all(a.at < b.at for a, b in itertools.pairwise(steps)), order
        assert all(s.body["time"] == s.at.isoformat(timespec="milliseconds") for s in steps[1:])
        kinds = [s.kind for s in steps]
        assert not ("returned" in kinds and "closed" in kinds) and ("callback" not in kinds or "closed" in kinds)


def test_urgency_channel_and_appeal_mixes(posts):
    placed = orders(posts)
    urgency = Counter(o["urgency"] for o in placed)
    assert urgency["ordinary"] / ORDERS == pytest.approx(0.75, abs=0.05)
    assert 0 < urgency["emergency"] < urgency["complex"] < urgency["utilities"] < urgency["ordinary"]
    assert Counter(o["channel"] for o in placed)["phone"] / ORDERS == pytest.approx(0.7, abs=0.05)
    assert set(Counter(o["appeal_type"] for o in placed)) == {
        "complaint",
        "help",
        "consultation",
        "report",
        "suggestion",
    }


def test_the_catalogue_draws_on_the_codes_of_the_limits_file(config, posts):
    codes = Counter(o["catalogue"][-1]["code"] for o in orders(posts))
    listed = set(config.categories)
    assert all(any(code.startswith(prefix) for prefix in listed) for code in codes)
    assert len({config.category(code) for code in codes}) >= 6
    assert {o["catalogue"][0]["code"] for o in orders(posts)} >= {"01", "02", "03", "04", "05"}


def test_most_placed_by_a_point_inside_the_street_some_by_address_or_community_a_few_nowhere(config, posts):
    placed = orders(posts)
    located = [o for o in placed if "location" in o]
    assert share(located, placed) == pytest.approx(0.7, abs=0.05)
    assert all(not REGISTRY.locate(o["location"]["lat"], o["location"]["lng"]).outside for o in located)
    rest = [o for o in placed if "location" not in o]
    named = [o for o in rest if "platform_community" in o]
    communities = {c.id for c in REGISTRY.communities.values()} | {c.name for c in REGISTRY.communities.values()}
    assert named and all(o["platform_community"] in communities for o in named)
    by_address = [o for o in rest if "platform_community" not in o and config.address(o["address"])]
    nowhere = [o for o in rest if "platform_community" not in o and not config.address(o["address"])]
    assert share(by_address, placed) == pytest.approx(0.15, abs=0.04)
    assert share(named, placed) == pytest.approx(0.10, abs=0.03)
    assert share(nowhere, placed) == pytest.approx(0.05, abs=0.025)
    assert all(normalise_address(o["address"]) not in config.addresses for o in nowhere)


def test_contacts_are_masked_and_hashed_under_the_demo_key_with_repeat_callers(posts):
    placed = orders(posts)
    assert all(re.fullmatch(MASKED_CONTACT, o["contact_masked"]) for o in placed)
    assert all(re.fullmatch(CONTACT_HASH, o["contact_hash"]) for o in placed)
    calls = Counter(o["contact_hash"] for o in placed)
    repeats = sum(n - 1 for n in calls.values())
    assert repeats / ORDERS == pytest.approx(0.15, abs=0.05)
    masks = {h: {o["contact_masked"] for o in placed if o["contact_hash"] == h} for h, n in calls.items() if n > 1}
    assert all(len(m) == 1 for m in masks.values())  # one caller, one masked number


def test_the_phone_number_never_leaves_the_feed_in_clear(config):
    played = feed(config)
    bodies = [str(p.body) for p in itertools.islice(played.posts(), 2000)]
    assert len(played.callers) > 300
    hashes = {hmac.new(DEMO_KEY, phone.encode(), hashlib.sha256).hexdigest(): phone for phone in played.callers}
    for body in bodies:
        assert not any(phone in body or phone[3:] in body for phone in played.callers)
    for order in (b for b in itertools.islice(feed(config).posts(), 2000) if b.kind == "order"):
        phone = hashes[order.body["contact_hash"]]  # the keyed hash of its digits
        assert order.body["contact_masked"] == f"{phone[:3]}****{phone[-4:]}"


def test_contacted_mostly_in_time_some_extended_a_few_returned_and_call_backs_with_a_satisfaction_mix(config, posts):
    placed = {o["id"]: o for o in orders(posts)}

    def limit(event, clock):
        order = placed[event["id"].rsplit("-", 1)[0]]
        limits = config.limits(order["urgency"], datetime.fromisoformat(order["dispatched_at"]), WORKING_CALENDAR)
        return getattr(limits, clock)

    contacted = events(posts, "contacted")
    in_time = [e for e in contacted if datetime.fromisoformat(e["time"]) <= limit(e, "contact_by")]
    assert share(contacted, placed) == pytest.approx(0.97, abs=0.02)
    assert share(in_time, contacted) == pytest.approx(0.95, abs=0.03)
    assert share(events(posts, "returned"), placed) == pytest.approx(0.04, abs=0.02)
    extended = events(posts, "extended")
    assert extended and all(datetime.fromisoformat(e["new_limit"]) > limit(e, "resolve_by") for e in extended)
    closed = events(posts, "closed")
    assert share(closed, placed) == pytest.approx(0.96, abs=0.02)
    callbacks = events(posts, "callback")
    assert share(callbacks, closed) == pytest.approx(0.95, abs=0.03)
    mix = Counter(c["satisfaction"] for c in callbacks)
    assert mix["satisfied"] / len(callbacks) == pytest.approx(0.80, abs=0.04)
    assert mix["basically_satisfied"] / len(callbacks) == pytest.approx(0.12, abs=0.03)
    assert mix["not_satisfied"] / len(callbacks) == pytest.approx(0.08, abs=0.03)
    unresolved = [c for c in callbacks if c["resolved"] == "no"]
    assert unresolved and all(c["satisfaction"] == "not_satisfied" for c in unresolved)


def test_delays_run_on_the_demos_compressed_clock(config, posts):
    placed = {o["id"]: o for o in orders(posts)}
    for callback in events(posts, "callback")[:100]:
        closed = next(e for e in events(posts, "closed") if e["id"] == callback["id"].replace("callback", "closed"))
        gap = datetime.fromisoformat(callback["time"]) - datetime.fromisoformat(closed["time"])
        assert timedelta(hours=4) / 24 <= gap <= timedelta(hours=48) / 24
    for order in list(placed.values())[:100]:
        waited = datetime.fromisoformat(order["dispatched_at"]) - datetime.fromisoformat(order["received_at"])
        assert timedelta(minutes=10) / 24 <= waited <= timedelta(minutes=90) / 24


def test_the_same_seed_gives_the_same_feed_and_another_seed_another(config):
    def bodies(seed: int) -> list[dict]:
        return [p.body for p in itertools.islice(feed(config, seed).posts(), 300)]

    assert bodies(7) == bodies(7)
    assert bodies(7) != bodies(8)
