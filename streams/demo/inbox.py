"""`redwall inbox`: a loopback webhook endpoint playing the generic JSON receiver and the WeCom and
DingTalk robots. It checks signatures and logs each message; the demo points its channels here, and
the tests build their failing receivers on it."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from config.routing import load_routing
from config.settings import Settings
from schemas import json
from sinks.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_dingtalk, verify_json
from streams.http.access_log import PathOnlyAccessLogger

log = logging.getLogger(__name__)


@dataclass
class Message:
    path: str  # /<format>/<anything>: the format says how it is signed and answered
    key: str  # the Idempotency-Key header
    body: dict
    status: int  # what the inbox answered
    signed: bool  # the signature checked out (WeCom signs nothing: always True)
    arrived: float  # time.time() when it came in


class Inbox:
    def __init__(self, secret: str):
        self.secret = secret
        self.received: list[Message] = []

    async def refuse(self, request: web.Request) -> int | None:
        """A failure status to answer instead of taking the message; None takes it. Tests override it."""
        return None

    async def handle(self, request: web.Request) -> web.Response:
        raw, arrived = await request.read(), time.time()
        failure = await self.refuse(request)
        signed = self.signed(request, raw)
        status = failure or (200 if signed else 401)
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        self.received.append(
            Message(request.path, request.headers.get(IDEMPOTENCY_HEADER, ""), body, status, signed, arrived)
        )
        if status != 200:
            return web.json_response({"error": "refused" if failure else "bad signature"}, status=status)
        log.info("%s %s: %s", request.path, request.headers.get(IDEMPOTENCY_HEADER, "-"), summary(body))
        if _format(request.path) in ("wecom", "dingtalk"):
            return web.json_response({"errcode": 0, "errmsg": "ok"})  # what both robots answer on success
        return web.json_response({"ok": True})

    def signed(self, request: web.Request, raw: bytes) -> bool:
        kind = _format(request.path)
        if kind == "dingtalk":
            return request.query.get("sign") == sign_dingtalk(self.secret, request.query.get("timestamp", ""))
        if kind == "wecom":
            return True
        return verify_json(
            self.secret, request.headers.get(TIMESTAMP_HEADER, ""), raw, request.headers.get(SIGNATURE_HEADER, "")
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        return app


def _format(path: str) -> str:
    return path.strip("/").split("/", 1)[0].split("-", 1)[0]


def summary(body: dict) -> str:
    if "alerts" in body:
        return "; ".join(f"{a['title']['zh']} ({a['id']}#{a['seq']})" for a in body["alerts"])
    markdown = body.get("markdown", {})
    lines = (markdown.get("content") or markdown.get("text") or "").splitlines()
    return " ".join(line for line in lines if line.startswith(("###", "**")))  # heading and alert titles


def routing_for_inbox(routing_path: Path, base_url: str) -> str:
    """The routing file's text with every channel's url pointing at the inbox (/<type>/<channel>)."""
    text = routing_path.read_text(encoding="utf-8")
    for channel in load_routing(routing_path).channels.values():
        text = re.sub(
            rf'^(\s*url\s*=\s*)"{re.escape(channel.url)}"',
            rf'\g<1>"{base_url}/{channel.type}/{channel.name}"',
            text,
            count=1,
            flags=re.M,
        )
    return text


def main(settings: Settings, port: int) -> None:
    async def serve() -> None:
        # DingTalk's signature travels in the query string: the access log keeps only the path.
        runner = web.AppRunner(Inbox(settings.webhook_secret).app(), access_log_class=PathOnlyAccessLogger)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        log.info("webhook inbox on http://127.0.0.1:%d/{json,wecom,dingtalk}/...", port)
        try:
            await asyncio.Event().wait()  # until SIGTERM/SIGINT ends the process
        finally:
            await runner.cleanup()

    asyncio.run(serve())
