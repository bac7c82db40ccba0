"""`redwall console`: the dispatcher console, an aiohttp server of its own beside the workers. Routes:

    GET  /                      the page (console/static/); `/?token=` signs in and redirects to `/` at once
    GET  /signin, POST /signin  the sign-in form for a pasted token; POST /signout ends the session
    GET  /favicon.ico, /static/ the page's files; GET /metrics for Prometheus; GET /healthz, 200 only while
                                it can serve (consumers/console/health.py) (these four need no dispatcher)
    GET  /api/names             Chinese names (schemas/display.py, the roster's worker roles) and REDWALL_TIMEZONE
    GET  /api/geometry          the streets' grids, communities and courtyards (no tile server)
    GET  /api/snapshot          who is signed in (its street), the session's CSRF token, the actions its role may take,
                                alerts, open incidents, devices: of its street only for a street's dispatcher
                                (consumers/console/scope.py), of every street for the district's
    GET  /api/calendar          the working hours from 30 days back to 60 ahead, in UTC ms (consumers/console/worktime.py)
    GET  /api/events            the live feed (SSE), on the session cookie: no token in its URL; cut to the street as
                                the snapshot is
    GET  /api/incidents/{id}    one incident from PostgreSQL: reports, history, deadlines (of the dispatcher's street;
                                another street's is 404)
    GET  /api/hotline/orders    12345 work orders with their clocks (?status=open|closed|returned, limit, offset,
                                community; a community dispatcher: its own only) (consumers/console/hotline.py)
    GET  /api/hotline/rates     the rates per community, grid or category with n (?by=, period=month|30d, month=)
    GET  /api/presence          who was here: devices inside a courtyard or grid (?courtyard=|grid=, from, to), with
                                entry, exit and time inside; POST /api/presence the same for a drawn polygon (a
                                community dispatcher: inside its community only) (consumers/console/presence.py)
    GET  /api/tasks             tasks to a person in the dispatcher's scope (?status=open|all|<status>, device, since);
                                GET /api/tasks/{id} one with its history; GET /api/tasks/candidates (?courtyard=|lat=&lng=)
                                who should go; POST /api/tasks and /api/tasks/{id}/cancel passed on to a worker
                                (community and street dispatchers, a community one in its community) (consumers/console/tasks.py)
    GET  /api/patrol/day        the daily patrol summary per rostered worker (?date=YYYY-MM-DD, device=; a community
                                dispatcher: the workers of its grids only) (consumers/console/patrol_day.py)
    GET  /api/reports           the weekly 专报 made for the street: week, made at, links (consumers/console/reports.py)
    GET  /reports/{week}.html   one week's report (2026-W49), and /reports/{week}.pdf, to any signed-in dispatcher
    POST /api/incidents/{id}/actions  ack, resolve, request_escalation, reassign (+owner), pause (+pause_reason),
                                resume, extend (+limit), return (+unit), approve and deny (+request), as the
                                role may ([actions.roles]), passed on to a worker with the dispatcher's own
                                token (consumers/console/actions.py)

Who may ask, and the headers of every answer: consumers/console/auth.py. The access log keeps method,
path, status, size and time only (streams/http/access_log.py).

A process of its own rather than views on the Faust web server: every worker sees only its own
partitions, while the console must show all of them; and slow browsers must never share an event
loop with stream processing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest

from config.calendar import load_calendar
from config.geometry import Geometry, load_geometry
from config.hotline import load_hotline
from config.roster import ROLES as ROSTER_ROLES
from config.rules import load_rules
from config.settings import Settings
from config.tasks import load_task_rules
from consumers import shell
from consumers.console.actions import SESSION, ActionProxy, worker_url
from consumers.console.auth import ConsoleAuth, security_headers
from consumers.console.feed import ConsoleFeed
from consumers.console.health import ConsoleHealth
from consumers.console.hotline import HotlineViews
from consumers.console.patrol_day import PatrolDayView
from consumers.console.presence import PresenceViews
from consumers.console.reads import fresh_json, from_postgres
from consumers.console.reports import ReportViews
from consumers.console.scope import FeedScope
from consumers.console.sessions import Sessions
from consumers.console.tasks import TaskViews
from consumers.console.worktime import CalendarView
from schemas import json
from schemas.display import names
from schemas.fields import FieldError
from sinks.incident_detail import incident_detail
from streams.credentials import CredentialCache
from streams.escalation.state import community_of
from streams.http.access_log import PathOnlyAccessLogger
from streams.http.refusal import refusal_response
from streams.scope import NOWHERE, place_street, sees, street_scope

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
SSE_PING_SECONDS = 15.0
REVOKED_FEED_SECONDS = 1.0
POOL = web.AppKey("pool", asyncpg.Pool)
HEALTH = web.AppKey("health", ConsoleHealth)


def create_console(
    settings: Settings, feed: ConsoleFeed, registry: CollectorRegistry | None = None, sessions: Sessions | None = None
) -> web.Application:
    geometry_areas = load_geometry(settings.geometry_path)
    geometry = geometry_json(geometry_areas)
    scope = FeedScope(geometry_areas, feed.positions.get)
    # The roster's roles (网格员 …) name the workers in who was here, the tasks and the daily patrol.
    labels = json.dumps({"names": {**names(), "worker_role": dict(ROSTER_ROLES)}, "timezone": settings.timezone})
    registry = registry or CollectorRegistry()
    # Refuses to start, naming the file, without the next 60 days: the page counts working time on it.
    calendar = CalendarView(load_calendar(settings.calendar_path, settings.holidays_path, settings.timezone))
    rules = load_rules(settings.escalation_rules_path)
    credentials = CredentialCache.from_settings(settings, registry)
    auth = ConsoleAuth(
        credentials,
        sessions or Sessions(settings.console_session_hours * 3600),
        Counter(
            "redwall_console_auth_refused_total",
            "requests refused for their token or session, by reason",
            ["reason"],
            registry=registry,
        ),
    )
    actions = ActionProxy(
        worker_url(settings),
        Counter(
            "redwall_console_actions_refused_total",
            "actions refused as outside the dispatcher's role, by role",
            ["role"],
            registry=registry,
        ),
        Counter(
            "redwall_console_actions_total",
            "actions passed on to a worker, by HTTP status",
            ["status"],
            registry=registry,
        ),
        rules.action_roles,
        geometry_areas,
    )
    Gauge("redwall_console_clients", "browsers on the live feed", registry=registry).set_function(
        lambda: len(feed.clients)
    )

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def snapshot(request: web.Request) -> web.Response:
        who, sid = request["dispatcher"], request["session"]
        session = auth.sessions.get(sid) if sid else None
        street = street_scope(who, geometry_areas)
        body = {
            "role": who.role,
            "dispatcher": who.subject,
            "community": who.community,
            "street": street,
            "csrf": session and session.csrf,
            "actions": rules.actions_for("street" if who.role == "district" else who.role),
            **scope.cut(feed.snapshot(), street),
        }
        return fresh_json(body)

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        queue, street = feed.subscribe(), street_scope(request["dispatcher"], geometry_areas)
        try:
            await response.write(b"event: hello\ndata: {}\n\n")
            idle = 0.0
            # The feed of a dispatcher revoked or signed out meanwhile ends within REVOKED_FEED_SECONDS.
            while (queue in feed.clients or not queue.empty()) and auth.still_allowed(request):
                try:
                    batch, message = await asyncio.wait_for(queue.get(), REVOKED_FEED_SECONDS)
                except TimeoutError:
                    idle += REVOKED_FEED_SECONDS
                    if idle >= SSE_PING_SECONDS:
                        idle = 0.0
                        await response.write(b": ping\n\n")  # keeps proxies from closing an idle stream
                    continue
                idle = 0.0
                if street is not None:  # a street's dispatcher: its street's part of the batch, if any
                    message = scope.part(batch, street)
                    if message is None:
                        continue
                await response.write(b"data: " + message + b"\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the browser went away
        finally:
            feed.unsubscribe(queue)
        return response

    async def detail(request: web.Request) -> web.Response:
        """A dispatcher reads any incident of its street (a district one any at all), as its list shows them;
        another street's does not exist for it: 404, as for an unknown id."""
        incident = request.match_info["incident"]
        found = await from_postgres(lambda db: incident_detail(db, incident), request.app[POOL], "incident")
        if isinstance(found, web.Response):
            return found
        live = feed.incidents.get(incident)
        held = (found and found["incident"]) or live or {}
        street = place_street(geometry_areas, community_of(incident), held.get("street_id") or held.get("street"))
        if (found is None and live is None) or not sees(request["dispatcher"], geometry_areas, street):
            reason = f"no incident {incident!r:.140} in PostgreSQL or among the open incidents"
            return refusal_response(404, reason, [FieldError("incident", reason)])
        found = found or {"incident": None, "reports": [], "events": []}
        for event in found["events"]:
            held = credentials.key_of("dispatcher", event["actor"])
            event["actor_role"] = held[1].role if held else None
        return fresh_json({**found, "live": live})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    maps = StreetMaps(geometry_areas, geometry)

    def constant(body: bytes):
        async def view(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type="application/json", headers={"Cache-Control": "max-age=300"})

        return view

    async def favicon(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml"})

    app = web.Application(middlewares=[auth.middleware])
    hotline = HotlineViews(
        load_hotline(settings.hotline_path), calendar.cal, lambda: app[POOL], geometry=geometry_areas
    )
    reports = ReportViews(geometry_areas, settings.timezone, lambda: app[POOL])
    presence = PresenceViews(geometry_areas, settings, lambda: app[POOL])
    tasks = TaskViews(geometry_areas, settings, lambda: app[POOL], actions, load_task_rules(settings.task_rules_path))
    app.on_response_prepare.append(security_headers)
    app.router.add_get("/", page)
    app.router.add_get("/signin", auth.signin_form)
    app.router.add_post("/signin", auth.signin_post)
    app.router.add_post("/signout", auth.signout)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/metrics", metrics)
    app[HEALTH] = ConsoleHealth(credentials, POOL)
    app.router.add_get("/healthz", app[HEALTH].view)
    app.router.add_get("/api/names", constant(labels))
    app.router.add_get("/api/geometry", maps.view)
    app.router.add_get("/api/snapshot", snapshot)
    app.router.add_get("/api/calendar", calendar.view)
    app.router.add_get("/api/events", events)
    app.router.add_get("/api/incidents/{incident}", detail)
    app.router.add_post("/api/incidents/{incident}/actions", actions.post)
    app.router.add_get("/api/hotline/orders", hotline.orders)
    app.router.add_get("/api/hotline/rates", hotline.rates)
    app.router.add_get("/api/presence", presence.get)
    app.router.add_post("/api/presence", presence.post)
    app.router.add_get("/api/tasks", tasks.listing)
    app.router.add_post("/api/tasks", tasks.create)
    app.router.add_get("/api/tasks/candidates", tasks.candidates)  # before {task}: a task id starts "task-"
    app.router.add_get("/api/tasks/{task}", tasks.detail)
    app.router.add_post("/api/tasks/{task}/cancel", tasks.cancel)
    app.router.add_get("/api/patrol/day", PatrolDayView(settings, lambda: app[POOL], geometry_areas).get)
    app.router.add_get("/api/reports", reports.listing)
    app.router.add_get("/reports/{week}.{kind:html|pdf}", reports.file)
    app.router.add_static("/static/", STATIC)
    app.cleanup_ctx.append(_session)
    app.cleanup_ctx.append(lambda app: _pool(app, settings))
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


async def _session(app: web.Application):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        app[SESSION] = session
        yield


async def _pool(app: web.Application, settings: Settings):
    # min_size=0: a database that is down makes a detail answer 503, not the console fail to start.
    pool = await asyncpg.create_pool(settings.database_dsn, min_size=0, max_size=2, command_timeout=10)
    app[POOL] = pool
    try:
        yield
    finally:
        await pool.close()


class StreetMaps:
    """`GET /api/geometry`: a street's dispatchers get their street's map, drawn and framed alone; the
    district's and look-only ones the whole map. Each street's is made on first asking and kept."""

    def __init__(self, geometry: Geometry, whole: bytes):
        self.geometry, self.made = geometry, {None: whole}
        # A street dispatcher issued without a street in a district sees nothing, its map included.
        empty = {"street": geometry.district.name if geometry.district else "", "communities": [], "grids": []}
        self.made[NOWHERE] = json.dumps({**empty, "courtyards": []})

    async def view(self, request: web.Request) -> web.Response:
        street = street_scope(request["dispatcher"], self.geometry)
        if street is None or len(self.geometry.streets) == 1:
            street = None
        elif street not in self.geometry.streets:  # none named, or one the map no longer holds
            street = NOWHERE
        if street not in self.made:
            self.made[street] = geometry_json(self.geometry.of_street(street))
        # Private: which map a browser gets depends on who signed in.
        headers = {"Cache-Control": "private, max-age=300", "Vary": "Cookie, Authorization"}
        return web.Response(body=self.made[street], content_type="application/json", headers=headers)


def geometry_json(geometry: Geometry) -> bytes:
    """Grids, communities and courtyards as outer rings of (lng, lat), rounded to ~1 m: about 40 KB for the
    sample's grids and communities, 330 KB with its 1,440 courtyards (the map draws these at close zoom)."""

    def areas(items):
        return [
            {
                "id": a.id,
                "name": a.name,
                "name_en": a.name_en,
                "parent": a.parent,
                "rings": [[[round(x, 5), round(y, 5)] for x, y in polygon[0]] for polygon in a.polygons],
            }
            for a in items
        ]

    return json.dumps(
        {
            "street": geometry.street.name if len(geometry.streets) == 1 else geometry.district.name,
            "streets": [{"id": s.id, "name": s.name} for s in geometry.streets.values()],
            "communities": areas(geometry.communities.values()),
            "grids": areas(geometry.grids.values()),
            "courtyards": [
                {k: a[k] for k in ("id", "name", "parent", "rings")} for a in areas(geometry.courtyards.values())
            ],
        }
    )


async def serve(settings: Settings, stop: asyncio.Event | None = None, *, kafka: dict | None = None) -> None:
    """The console in its process shell (consumers/shell.py) until `stop` (default: SIGINT or SIGTERM). Its
    /metrics and /healthz are on its own port, beside the pages."""
    await shell.serve(
        settings, "console", lambda kafka, stop: run_console(settings, kafka, stop), stop=stop, kafka=kafka
    )


async def run_console(settings: Settings, kafka: dict, stop: asyncio.Event) -> None:
    """The web app and its live feed until `stop`; a feed that fails ends the console with its error."""
    from streams.topics import ensure_topics

    await ensure_topics(settings, (settings.topic_alerts, settings.topic_incidents, settings.topic_patrol), kafka=kafka)
    feed = ConsoleFeed(settings, kafka=kafka)
    # The access log keeps method, path, status, size and time: never a query string, Referer or token.
    runner = web.AppRunner(create_console(settings, feed), shutdown_timeout=1.0, access_log_class=PathOnlyAccessLogger)
    await runner.setup()
    await web.TCPSite(runner, settings.web_host, settings.console_port).start()
    log.info("console on http://%s:%d/", settings.web_host, settings.console_port)
    try:
        feed_task = asyncio.create_task(feed.run(stop))
        runner.app[HEALTH].follow(feed_task)
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({feed_task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        await feed_task  # a feed that failed ends the console with its error, not a page without a live feed
    finally:
        await runner.cleanup()


def main(settings: Settings, kafka: dict | None = None) -> None:
    shell.run(lambda: serve(settings, kafka=kafka))
