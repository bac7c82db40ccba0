"""`redwall console`: the dispatcher console, an aiohttp server of its own beside the workers. It serves
the page, the street's geometry (no tile server), a snapshot and a live SSE feed, and passes the
dispatcher's actions on to a worker's POST /v1/incidents/{id}/actions.

A process of its own rather than views on the Faust web server: every worker sees only its own
partitions, while the console must show all of them; and slow browsers must never share an event
loop with stream processing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest

from config.geometry import load_geometry
from config.settings import Settings
from schemas import json
from sinks.console import ConsoleFeed
from streams.credentials import CredentialCache, refusal
from streams.http_auth import Unauthorized, authenticate, bearer_token
from streams.incident_state import community_of

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "console_static"
ACTIONS = ("ack", "resolve", "request_escalation")
SSE_PING_SECONDS = 15.0
REVOKED_FEED_SECONDS = 1.0


def create_console(settings: Settings, feed: ConsoleFeed, registry: CollectorRegistry | None = None) -> web.Application:
    geometry = geometry_json(settings)
    worker_url = f"http://{settings.web_host}:{settings.web_port}"
    registry = registry or CollectorRegistry()
    credentials = CredentialCache.from_settings(settings, registry)
    refused_actions = Counter("redwall_console_actions_refused_total",
                              "actions refused as outside the dispatcher's role, by role", ["role"], registry=registry)
    refused_tokens = Counter("redwall_console_auth_refused_total", "requests refused for their token, by reason",
                             ["reason"], registry=registry)
    Gauge("redwall_console_clients", "browsers on the live feed", registry=registry).set_function(
        lambda: len(feed.clients))
    forwarded_actions = Counter("redwall_console_actions_total", "actions passed on to a worker, by HTTP status",
                                ["status"], registry=registry)

    @web.middleware
    async def auth(request: web.Request, handler):
        # Static files hold no data; /metrics is for Prometheus, which carries no console token.
        if request.path.startswith("/static/") or request.path == "/metrics":
            return await handler(request)
        try:
            request["dispatcher"] = await authenticate(credentials, "dispatcher", request.headers, request.query)
        except Unauthorized as refused:
            refused_tokens.labels(refused.labels[0]).inc()
            reason = refused.errors[0].reason
            if request.path.startswith("/api/"):
                return web.json_response({"error": reason, "errors": [e.as_dict() for e in refused.errors]},
                                         status=refused.status, headers=refused.headers)
            return web.Response(status=refused.status, content_type="text/html", headers=refused.headers,
                                text=f"<!doctype html><title>Refused</title><h1>{refused.status}: {reason}</h1>")
        request["token"] = bearer_token(request.headers, request.query)
        return await handler(request)

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def snapshot(request: web.Request) -> web.Response:
        who = request["dispatcher"]
        body = {"role": who.role, "dispatcher": who.subject, "community": who.community, **feed.snapshot()}
        return web.Response(body=json.dumps(body), content_type="application/json")

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        queue = feed.subscribe()
        try:
            await response.write(b"event: hello\ndata: {}\n\n")
            idle = 0.0
            # The feed of a dispatcher revoked meanwhile ends within REVOKED_FEED_SECONDS.
            while (queue in feed.clients or not queue.empty()) and credentials.holds(request["token"]):
                try:
                    message = await asyncio.wait_for(queue.get(), REVOKED_FEED_SECONDS)
                except TimeoutError:
                    idle += REVOKED_FEED_SECONDS
                    if idle >= SSE_PING_SECONDS:
                        idle = 0.0
                        await response.write(b": ping\n\n")  # keeps proxies from closing an idle stream
                    continue
                idle = 0.0
                await response.write(b"data: " + message + b"\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the browser went away
        finally:
            feed.unsubscribe(queue)
        return response

    async def action(request: web.Request) -> web.Response:
        who, incident = request["dispatcher"], request.match_info["incident"]
        why_not = refusal(who, community_of(incident))  # a malformed id: the worker's 404
        if why_not:
            refused_actions.labels(who.role).inc()
            log.warning("action refused: dispatcher=%s role=%s incident=%.128s reason=%s", who.subject, who.role,
                        incident, json.dumps(why_not).decode())
            return web.json_response({"error": why_not, "errors": [{"field": "incident", "reason": why_not}]}, status=403)
        try:
            body = await request.json(loads=json.loads)
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        if not isinstance(body, dict) or body.get("action") not in ACTIONS:
            return web.json_response({"errors": [{"field": "action", "reason": f"must be one of {', '.join(ACTIONS)}"}]},
                                     status=422)
        # The worker checks the dispatcher again with its own token and records it as the actor.
        forwarded = {"id": f"console-{uuid.uuid4().hex}", "action": body["action"],
                     "reason": str(body.get("reason") or "from the dispatcher console")[:2000]}
        url = f"{worker_url}/v1/incidents/{incident}/actions"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {request['token']}"}
        try:
            async with request.app[SESSION].post(url, data=json.dumps(forwarded), headers=headers) as answer:
                forwarded_actions.labels(str(answer.status)).inc()
                return web.Response(status=answer.status, body=await answer.read(), content_type="application/json")
        except aiohttp.ClientError as exc:
            forwarded_actions.labels("502").inc()
            return web.json_response({"error": f"the worker at {worker_url} did not answer: {exc}"}, status=502)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def geometry_view(request: web.Request) -> web.Response:
        return web.Response(body=geometry, content_type="application/json", headers={"Cache-Control": "max-age=300"})

    app = web.Application(middlewares=[auth])
    app.router.add_get("/", page)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/geometry", geometry_view)
    app.router.add_get("/api/snapshot", snapshot)
    app.router.add_get("/api/events", events)
    app.router.add_post("/api/incidents/{incident}/actions", action)
    app.router.add_static("/static/", STATIC)
    app.cleanup_ctx.append(_session)
    app.cleanup_ctx.append(lambda _: _running(credentials))
    return app


@contextlib.asynccontextmanager
async def _running(credentials: CredentialCache):
    task = credentials.start()  # loads now; refreshed by LISTEN/NOTIFY while the console runs
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task



SESSION = web.AppKey("session", aiohttp.ClientSession)


async def _session(app: web.Application):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        app[SESSION] = session
        yield


def geometry_json(settings: Settings) -> bytes:
    """Grids and communities as outer rings of (lng, lat), rounded to ~1 m: about 60 KB for the sample."""
    geometry = load_geometry(settings.geometry_path)

    def areas(items):
        return [{"id": a.id, "name": a.name, "name_en": a.name_en, "parent": a.parent,
                 "rings": [[[round(x, 5), round(y, 5)] for x, y in polygon[0]] for polygon in a.polygons]}
                for a in items]

    return json.dumps({"street": geometry.street.name, "communities": areas(geometry.communities.values()),
                       "grids": areas(geometry.grids.values())})


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    from streams.broker_epoch import run_watched
    from streams.topics import ensure_topics

    await ensure_topics(settings, (settings.topic_alerts, settings.topic_incidents, settings.topic_patrol))
    feed = ConsoleFeed(settings)
    runner = web.AppRunner(create_console(settings, feed), shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, settings.web_host, settings.console_port).start()
    log.info("console on http://%s:%d/", settings.web_host, settings.console_port)
    try:
        # A broker that lost its log ends the console for a restart, as it does the other processes.
        feed_task = asyncio.create_task(run_watched(settings, "console", feed.run(stop), stop))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({feed_task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        await feed_task  # a feed that failed ends the console with its error, not a page without a live feed
    finally:
        await runner.cleanup()


def main(settings: Settings) -> None:
    async def run() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    asyncio.run(run())
