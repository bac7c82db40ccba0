"""The demo's 12345 adapter against a real HTTP server on loopback standing in for the worker's routes: a post
that fails is sent again with the same body, a worker that is not there yet is waited for, a refusal is
logged and dropped, and none of it ends the feed."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

from aiohttp import web

from schemas import json
from streams.demo.embedded import free_port
from streams.demo.hotline_feed import Post
from streams.demo.hotline_poster import HotlinePoster


class Platform:
    """What the worker's routes answer: 503 to the first `flaky` requests of each body id, `refuse` ids 422."""

    def __init__(self, flaky: int = 0, refuse: frozenset = frozenset()):
        self.flaky, self.refuse = flaky, refuse
        self.seen: list[tuple[str, str, dict]] = []  # (path, authorization, body)
        self.tries: Counter = Counter()

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.seen.append((request.path, request.headers.get("Authorization", ""), body))
        self.tries[body["id"]] += 1
        if self.tries[body["id"]] <= self.flaky:
            return web.Response(status=503)
        if body["id"] in self.refuse:
            return web.json_response({"errors": [{"field": "kind", "reason": "is not known"}]}, status=422)
        return web.json_response({"accepted": 1}, status=202)

    async def serve(self, port: int) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/v1/hotline/orders", self.handle)
        app.router.add_post("/v1/hotline/orders/{order}/events", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner


def posts(now: datetime) -> list[Post]:
    order = {"type": "order", "id": "GD1"}
    contacted = {"id": "GD1-contacted", "kind": "contacted", "time": now.isoformat()}
    odd = {"id": "GD1-odd", "kind": "odd", "time": now.isoformat()}
    return [
        Post(now, "GD1", "order", order),
        Post(now + timedelta(milliseconds=200), "GD1", "contacted", contacted),
        Post(now + timedelta(milliseconds=300), "GD1", "odd", odd),
    ]


async def test_failed_posts_go_again_with_the_same_ids_and_a_refusal_is_dropped():
    platform, port = Platform(flaky=2, refuse=frozenset({"GD1-odd"})), free_port()
    runner = await platform.serve(port)
    try:
        poster = HotlinePoster(f"http://127.0.0.1:{port}", "tok", backoff=0.05)
        outcomes = await asyncio.wait_for(poster.run(iter(posts(datetime.now(UTC))), asyncio.Event()), 30)
    finally:
        await runner.cleanup()
    assert [(path, body["id"]) for path, _, body in platform.seen] == [
        ("/v1/hotline/orders", "GD1"),
        ("/v1/hotline/orders", "GD1"),
        ("/v1/hotline/orders", "GD1"),
        ("/v1/hotline/orders/GD1/events", "GD1-contacted"),
        ("/v1/hotline/orders/GD1/events", "GD1-contacted"),
        ("/v1/hotline/orders/GD1/events", "GD1-contacted"),
        ("/v1/hotline/orders/GD1/events", "GD1-odd"),
        ("/v1/hotline/orders/GD1/events", "GD1-odd"),
        ("/v1/hotline/orders/GD1/events", "GD1-odd"),
    ]
    assert {auth for _, auth, _ in platform.seen} == {"Bearer tok"}
    assert all(body == platform.seen[0][2] for path, _, body in platform.seen[:3])  # the same body each time
    assert outcomes == Counter(order=1, contacted=1, refused=1, retried=6)


async def test_a_worker_not_there_yet_is_waited_for_and_the_feed_goes_on_meanwhile():
    platform, port = Platform(), free_port()
    poster = HotlinePoster(f"http://127.0.0.1:{port}", "tok", backoff=0.05, requeue=timedelta(seconds=0.5))
    now = datetime.now(UTC)
    later = [Post(now + timedelta(seconds=1 + n), f"GD{n}", "order", {"id": f"GD{n}"}) for n in range(2, 4)]
    stop = asyncio.Event()
    running = asyncio.create_task(poster.run(itertools.chain(posts(now)[:1], later), stop))
    await asyncio.sleep(1.5)  # the first post failed every try and waits its turn again, nothing crashed
    assert poster.outcomes["requeued"] >= 1 and not running.done()
    runner = await platform.serve(port)
    try:
        outcomes = await asyncio.wait_for(running, 30)
    finally:
        await runner.cleanup()
    assert sorted(body["id"] for _, _, body in platform.seen) == ["GD1", "GD2", "GD3"]
    assert outcomes["order"] == 3 and outcomes["retried"] >= 4


async def test_stop_ends_the_feed_at_once_even_while_it_waits_for_a_worker():
    poster = HotlinePoster(f"http://127.0.0.1:{free_port()}", "tok", backoff=10)
    stop = asyncio.Event()
    running = asyncio.create_task(poster.run(iter(posts(datetime.now(UTC))), stop))
    await asyncio.sleep(0.5)
    stop.set()
    outcomes = await asyncio.wait_for(running, 5)
    assert outcomes["retried"] >= 1 and not outcomes["order"]
