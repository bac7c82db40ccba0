"""A real webhook receiver for tests: the inbox of `redwall inbox` on a loopback port, which can also
fail or stall the first N requests per path, or every request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from streams.demo.embedded import free_port
from streams.demo.inbox import Inbox, Message


@dataclass
class Behaviour:
    fail_first: int = 0  # answer 500 to this many requests
    stall_first: int = 0  # then sleep `stall` seconds on this many, and fail them too
    stall: float = 0.0
    always_fail: bool = False
    seen: int = 0


class Receiver(Inbox):
    def __init__(self, secret: str, port: int):
        super().__init__(secret)
        self.port = port
        self.behaviours: dict[str, Behaviour] = {}
        self.delay: Callable[[], float] | None = None  # seconds to wait before answering any request

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def delivered(self, path: str | None = None) -> list[Message]:
        return [r for r in self.received if r.status == 200 and (path is None or r.path == path)]

    def alert_ids(self, path: str | None = None) -> list[str]:
        """Alert ids the receiver took (answered 200), once per successful request carrying them."""
        return [i for r in self.delivered(path) for i in ids_in(r)]

    async def refuse(self, request: web.Request) -> int | None:
        if self.delay is not None:
            await asyncio.sleep(self.delay())
        behaviour = self.behaviours.setdefault(request.path, Behaviour())
        behaviour.seen += 1
        stalled = behaviour.fail_first < behaviour.seen <= behaviour.fail_first + behaviour.stall_first
        if stalled:
            await asyncio.sleep(behaviour.stall)  # the sender gives up first; this answer reaches nobody
        return 500 if behaviour.always_fail or behaviour.seen <= behaviour.fail_first or stalled else None


def ids_in(r: Message) -> list[str]:
    """The alert ids one message carries (JSON, or the robots' markdown)."""
    if "alerts" in r.body:
        return [a["id"] for a in r.body["alerts"]]
    text = r.body["markdown"].get("content") or r.body["markdown"].get("text")
    return [line.split("`")[1] for line in text.splitlines() if line.startswith("> `")]


async def start_receiver(secret: str, port: int | None = None) -> tuple[Receiver, web.AppRunner]:
    receiver = Receiver(secret, port or free_port())
    runner = web.AppRunner(receiver.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    return receiver, runner
