"""The demo's 12345 feed (pure): what the city platform's adapter would post for a street, in the demo's
compressed time. `HotlineFeed.posts()` yields `Post`s in the order they are due, forever; the poster
(streams/demo/hotline_poster.py) sends each one when its time comes.

A street receives a few hundred orders a month (`day.HOTLINE_ORDERS_PER_MINUTE` on the demo's clock),
the first as the demo starts. Most come with coordinates inside the street, some only with an address of
the address table, some only with the community the platform names, a few with an address nobody can
place. Each order's events follow it at delays drawn against the limits it runs under (the demo's
compressed copy of config/hotline.toml) or, for what no limit governs (the call-back), at real-world
delays divided by the compression: contacted (mostly in time), extended, returned, closed, called back.
Deterministic under a seed: ids, times and contents come from the seed and the start.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from config.calendar import WorkingCalendar
from config.hotline import HotlineConfig
from streams.demo.hotline_catalogue import ADDRESS_UNKNOWN, CATALOGUE, LEAD_UNIT, RETURNED_TO
from streams.demo.simulator import GridSampler
from streams.geofence.registry import GridRegistry

DEMO_KEY = b"redwall-demo-12345"  # the demo adapter's hashing key: it recognises repeat callers, nothing else
URGENCY = {"ordinary": 75, "utilities": 12, "complex": 8, "emergency": 5}
PLACED = {"location": 70, "address": 15, "community": 10, "nowhere": 5}
CHANNEL = {"phone": 70, "app": 20, "web": 10}
APPEAL = {"complaint": 45, "help": 25, "consultation": 15, "report": 10, "suggestion": 5}
SATISFACTION = {"satisfied": 80, "basically_satisfied": 12, "not_satisfied": 8}
REPEAT_CALLER = 0.15
CONTACT_LATE, CONTACT_NEVER = 0.05, 0.03
RETURNED, EXTENDED, CLOSED_LATE, CALLED_BACK = 0.04, 0.08, 0.10, 0.95


@dataclass(frozen=True)
class Post:
    """One request the adapter makes: an order (`kind` "order") or one of its events, due at `at`."""

    at: datetime
    order: str
    kind: str
    body: dict

    @property
    def path(self) -> str:
        return "/v1/hotline/orders" if self.kind == "order" else f"/v1/hotline/orders/{self.order}/events"


class HotlineFeed:
    def __init__(
        self,
        registry: GridRegistry,
        config: HotlineConfig,
        calendar: WorkingCalendar,
        start: datetime,
        *,
        per_minute: float,
        compression: float,
        seed: int = 12345,
    ):
        self.config, self.start, self.per_minute, self.compression = config, start, per_minute, compression
        self.calendar = calendar
        self.rng = random.Random(seed)
        self.sampler = GridSampler(registry, self.rng)
        self.grids = list(registry.grids)
        self.communities = {c.id: c.name for c in registry.communities.values()}
        self.parents = {g.id: g.parent for g in registry.grids.values()}
        self.addresses = sorted(config.addresses)
        self.callers: list[str] = []

    def posts(self) -> Iterator[Post]:
        """Every post in the order it is due: an order always before its own events."""
        due: list[tuple[datetime, int, Post]] = []
        tie = itertools.count()
        for n, dispatched in enumerate(self._arrivals()):
            while due and due[0][0] <= dispatched:
                yield heapq.heappop(due)[2]
            order = self.order(n, dispatched)
            yield Post(dispatched, order["id"], "order", order)
            for event in self.events(order):
                heapq.heappush(due, (event.at, next(tie), event))

    def _arrivals(self) -> Iterator[datetime]:
        at = self.start
        while True:
            yield at
            at += timedelta(minutes=self.rng.expovariate(self.per_minute))

    def order(self, n: int, dispatched: datetime) -> dict:
        entry = self.rng.choice(CATALOGUE)
        phone = self._caller()
        order = {
            "type": "order",
            "id": f"GD{self.start:%Y%m%d%H%M%S}{n:05d}",  # a restarted feed starts a new series
            "received_at": _iso(dispatched - self._real(minutes=self.rng.uniform(10, 90))),
            "dispatched_at": _iso(dispatched),
            "channel": _pick(self.rng, CHANNEL),
            "appeal_type": _pick(self.rng, APPEAL),
            "catalogue": [{"code": code, "name": name} for code, name in entry.levels],
            "urgency": _pick(self.rng, URGENCY),
            "content": self.rng.choice(entry.contents),
            "lead_unit": LEAD_UNIT,
            "contact_masked": f"{phone[:3]}****{phone[-4:]}",
            "contact_hash": hmac.new(DEMO_KEY, phone.encode(), hashlib.sha256).hexdigest(),
        }
        if entry.assisting and self.rng.random() < 0.3:
            order["assisting_units"] = [entry.assisting]
        return {**order, **self._place()}

    def _place(self) -> dict:
        """Where the platform says it is: a point, an address of the table, a community's name or id, or an
        address no table holds."""
        how = _pick(self.rng, PLACED)
        if how == "location" or (how == "address" and not self.addresses):
            grid = self.rng.choice(self.grids)
            lat, lng = self.sampler.point_in(grid)
            accuracy = round(self.rng.uniform(5, 50))
            point = {"lat": round(lat, 6), "lng": round(lng, 6), "accuracy": accuracy}
            return {"address": f"{self.communities[self.parents[grid]]}辖区", "location": point}
        if how == "address":
            return {"address": self.rng.choice(self.addresses)}
        if how == "community":
            community = self.rng.choice(sorted(self.communities))
            named = community if self.rng.random() < 0.5 else self.communities[community]
            return {"address": f"{self.communities[community]}辖区", "platform_community": named}
        return {"address": self.rng.choice(ADDRESS_UNKNOWN)}

    def _caller(self) -> str:
        if self.callers and self.rng.random() < REPEAT_CALLER:
            return self.rng.choice(self.callers)
        phone = self.rng.choice(("138", "139", "158", "186", "135")) + f"{self.rng.randrange(10**8):08d}"
        self.callers.append(phone)
        return phone

    def events(self, order: dict) -> list[Post]:
        """What happens to the order, each after the one before: contacted, then extended, returned or
        closed, and a call-back after a close."""
        dispatched = datetime.fromisoformat(order["dispatched_at"])
        limits = self.config.limits(order["urgency"], dispatched, self.calendar)
        steps = self._contact(dispatched, limits.contact_by)
        at = steps[-1][1] if steps else dispatched
        if self.rng.random() < RETURNED:
            at += self._real(hours=self.rng.uniform(0.5, 4))
            fields = {"returned_to": self.rng.choice(RETURNED_TO), "note": "非本街道职责"}
            return self._posts(order, [*steps, ("returned", at, fields)])
        return self._posts(order, steps + self._resolution(order["urgency"], dispatched, limits.resolve_by, at))

    def _contact(self, dispatched: datetime, contact_by: datetime) -> list[tuple[str, datetime, dict]]:
        """先行联系: mostly well within the limit, some late, a few never."""
        if self.rng.random() < CONTACT_NEVER:
            return []
        late = self.rng.random() < CONTACT_LATE
        share = self.rng.uniform(1.05, 1.8) if late else self.rng.uniform(0.1, 0.75)
        return [
            (
                "contacted",
                dispatched + (contact_by - dispatched) * share,
                {"actor": "社区接诉员", "note": "已电话联系诉求人"},
            )
        ]

    def _resolution(
        self, urgency: str, dispatched: datetime, resolve_by: datetime, at: datetime
    ) -> list[tuple[str, datetime, dict]]:
        """办结 after `at`: perhaps an extension first (to twice the span), mostly within the (extended) limit,
        then the hotline's call-back."""
        steps = []
        if urgency in ("ordinary", "complex") and self.rng.random() < EXTENDED:
            at = max(at, dispatched + (resolve_by - dispatched) * self.rng.uniform(0.5, 0.8)) + self._real(hours=1)
            resolve_by += resolve_by - dispatched
            steps.append(("extended", at, {"new_limit": _iso(resolve_by), "note": "需协调产权单位，申请延期"}))
        late = self.rng.random() < CLOSED_LATE
        share = self.rng.uniform(1.05, 1.5) if late else min(self.rng.betavariate(1.5, 4), 0.95)
        at = max(dispatched + (resolve_by - dispatched) * share, at + self._real(minutes=30))
        steps.append(("closed", at, {"actor": LEAD_UNIT, "result": "已现场处置并向诉求人反馈"}))
        if self.rng.random() < CALLED_BACK:
            steps.append(("callback", at + self._real(hours=self.rng.uniform(4, 48)), self._callback()))
        return steps

    def _callback(self) -> dict:
        satisfaction = _pick(self.rng, SATISFACTION)
        unresolved = satisfaction == "not_satisfied" and self.rng.random() < 0.7
        return {"resolved": "no" if unresolved else "yes", "satisfaction": satisfaction, "actor": "12345 回访"}

    def _posts(self, order: dict, steps: list[tuple[str, datetime, dict]]) -> list[Post]:
        return [
            Post(at, order["id"], kind, {"id": f"{order['id']}-{kind}", "kind": kind, "time": _iso(at), **fields})
            for kind, at, fields in steps
        ]

    def _real(self, **span: float) -> timedelta:
        """A real-world span on the demo's clock."""
        return timedelta(**span) / self.compression


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds")
