"""The access log of Redwall's own aiohttp servers (the console, `redwall inbox`): method, path, status,
size and time, nothing more. aiohttp's default line carries the request line with its query string and
the Referer, which is where sign-in links, DingTalk signatures and tokens travel."""

from __future__ import annotations

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse


class PathOnlyAccessLogger(AbstractAccessLogger):
    """`GET /api/snapshot 200 5123 0.004s`: the path without its query string, no header of any kind."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info("%s %s %d %d %.3fs", request.method, request.path, response.status, response.body_length, time)
