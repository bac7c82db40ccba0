"""`redwall simulate-hotline`: the demo's 12345 adapter. It posts what the feed (streams/demo/hotline_feed.py)
makes, each when it is due, to the worker's `POST /v1/hotline/orders` and `POST /v1/hotline/orders/{id}/events`
with an `integration` credential of its own.

A post that fails (no answer, 5xx, 429) is tried again with the same body, so the same ids: the worker
takes a resend as the same order or event. After a few tries it waits its turn again a little later; a
refusal (another 4xx) is logged with the worker's reasons and dropped. Nothing here ends the demo.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from config.calendar import load_calendar
from config.hotline import load_hotline
from config.settings import Settings
from schemas import json
from sinks.credentials import issue
from streams.cli.credentials import read_token_file
from streams.clock import stop_on_signals, stopped_within
from streams.demo import day as demo_day
from streams.demo.hotline_feed import HotlineFeed, Post
from streams.geofence.registry import GridRegistry

log = logging.getLogger(__name__)

SUBJECT = "12345-demo"  # the demo adapter's integration credential
TRIES = 4
REQUEUE = timedelta(seconds=30)  # a post that failed every try waits this long for its next turn
TRANSIENT = (429, 500, 502, 503, 504)


async def integration_token(settings: Settings) -> str:
    """A fresh token for the demo's adapter (a live one is replaced: the feed is its only holder)."""
    return (await issue(settings.database_dsn, "integration", SUBJECT, rotate=True)).token


class HotlinePoster:
    def __init__(self, url: str, token: str, *, backoff: float = 0.5, requeue: timedelta = REQUEUE):
        self.url, self.backoff, self.requeue = url.rstrip("/"), backoff, requeue
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.outcomes: Counter = Counter()

    async def run(self, posts: Iterator[Post], stop: asyncio.Event) -> Counter:
        """Each post when it is due, until `stop` or the end of `posts`; a post that failed goes round again
        `requeue` later. One post of `posts` at a time waits in the queue, beside those going round again."""
        queue: list[tuple[datetime, int, bool, Post]] = []  # (due, tie, fresh from `posts`, post)
        tie = itertools.count()

        def take() -> None:
            post = next(posts, None)
            if post is not None:
                heapq.heappush(queue, (post.at, next(tie), True, post))

        take()
        self.stop = stop
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as self.http:
            while queue and not await stopped_within(stop, (queue[0][0] - datetime.now(UTC)).total_seconds()):
                _, _, fresh, post = heapq.heappop(queue)
                if fresh:
                    take()
                if not await self.send(post):
                    heapq.heappush(queue, (datetime.now(UTC) + self.requeue, next(tie), False, post))
        return self.outcomes

    async def send(self, post: Post) -> bool:
        """True once the worker answered for good (accepted or refused); False when it should go again."""
        for attempt in range(TRIES):
            try:
                async with self.http.post(self.url + post.path, data=json.dumps(post.body), headers=self.headers) as r:
                    answer = await r.read()
                    if r.status not in TRANSIENT:
                        return self._answered(post, r.status, answer)
                    reason = f"HTTP {r.status}"
            except (TimeoutError, aiohttp.ClientError) as error:
                reason = f"{type(error).__name__}: {error}"
            self.outcomes["retried"] += 1
            if await stopped_within(self.stop, self.backoff * 2**attempt):
                break
        log.warning(
            "hotline: %s %s of %s not taken (%s); again in %s",
            post.kind,
            post.body["id"],
            post.order,
            reason,
            self.requeue,
        )
        self.outcomes["requeued"] += 1
        return False

    def _answered(self, post: Post, status: int, answer: bytes) -> bool:
        if 200 <= status < 300:
            self.outcomes[post.kind] += 1
        else:
            self.outcomes["refused"] += 1
            log.warning("hotline: %s %s refused with %d: %s", post.kind, post.body["id"], status, answer[:500])
        return True


def run_hotline_feed(
    settings: Settings,
    *,
    url: str,
    token: Path | None,
    seed: int = 12345,
    per_minute: float = demo_day.HOTLINE_ORDERS_PER_MINUTE,
    duration: float | None = None,
) -> int:
    async def main() -> Counter:
        stop = stop_on_signals(duration)
        held = read_token_file(token)[SUBJECT] if token else await integration_token(settings)
        feed = HotlineFeed(
            GridRegistry.from_settings(settings),
            load_hotline(settings.hotline_path),
            load_calendar(settings.calendar_path, settings.holidays_path, settings.timezone),
            datetime.now(UTC),
            per_minute=per_minute,
            compression=demo_day.COMPRESSION,
            seed=seed,
        )
        print(f"12345 feed to {url}: {per_minute:.2f} orders a minute with their events", flush=True)
        return await HotlinePoster(url, held).run(feed.posts(), stop)

    outcomes = asyncio.run(main())
    print("hotline feed: " + " ".join(f"{k}={v}" for k, v in sorted(outcomes.items())), flush=True)
    return 0
