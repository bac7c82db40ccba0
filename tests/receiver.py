"""A real webhook receiver for tests: an aiohttp server on loopback that checks signatures, can fail
or stall the first N requests per path, and remembers every request it answered."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Callable

from aiohttp import web

from schemas import json
from sinks.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_dingtalk, verify_json
from streams.embedded import free_port


@dataclass
class Received:
    path: str
    key: str
    body: dict
    status: int
    signed: bool  # the signature (json, dingtalk) checked out; True for wecom, which signs nothing
    arrived: float = 0.0  # time.time() when the request came in


@dataclass
class Behaviour:
    fail_first: int = 0  # answer 500 to this many requests
    stall_first: int = 0  # then sleep `stall` seconds on this many, and fail them too
    stall: float = 0.0
    always_fail: bool = False
    seen: int = 0


@dataclass
class Receiver:
    secret: str
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    port: int = 0
    delay: Callable[[], float] | None = None  # seconds to wait before answering any request

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def delivered(self, path: str | None = None) -> list[Received]:
        return [r for r in self.received if r.status == 200 and (path is None or r.path == path)]

    def alert_ids(self, path: str | None = None) -> list[str]:
        """Alert ids the receiver took (answered 200), once per successful request carrying them."""
        return [i for r in self.delivered(path) for i in _ids(r)]

    async def handle(self, request: web.Request) -> web.Response:
        raw, arrived = await request.read(), time.time()
        if self.delay is not None:
            await asyncio.sleep(self.delay())
        behaviour = self.behaviours.setdefault(request.path, Behaviour())
        behaviour.seen += 1
        stalled = behaviour.fail_first < behaviour.seen <= behaviour.fail_first + behaviour.stall_first
        if stalled:
            await asyncio.sleep(behaviour.stall)  # the sender gives up first; this answer reaches nobody
        failing = behaviour.always_fail or behaviour.seen <= behaviour.fail_first or stalled
        signed = self.signed(request, raw)
        status = 500 if failing else (200 if signed else 401)
        self.received.append(Received(request.path, request.headers.get(IDEMPOTENCY_HEADER, ""), json.loads(raw),
                                      status, signed, arrived))
        if request.path.startswith(("/wecom", "/dingtalk")) and status == 200:
            return web.json_response({"errcode": 0, "errmsg": "ok"})
        return web.json_response({"error": "failing on purpose"} if failing else {"ok": signed}, status=status)

    def signed(self, request: web.Request, raw: bytes) -> bool:
        if request.path.startswith("/dingtalk"):
            stamp = request.query.get("timestamp", "")
            return request.query.get("sign") == sign_dingtalk(self.secret, stamp)
        if request.path.startswith("/wecom"):
            return True
        return verify_json(self.secret, request.headers.get(TIMESTAMP_HEADER, ""), raw,
                           request.headers.get(SIGNATURE_HEADER, ""))


def _ids(r: Received) -> list[str]:
    if "alerts" in r.body:
        return [a["id"] for a in r.body["alerts"]]
    text = r.body["markdown"].get("content") or r.body["markdown"].get("text")
    return [line.split("`")[1] for line in text.splitlines() if line.startswith("> `")]


async def start_receiver(secret: str) -> tuple[Receiver, web.AppRunner]:
    receiver = Receiver(secret, port=free_port())
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    return receiver, runner

