"""What each Redwall process serves over HTTP, and nothing more: every route of the worker's public port is in
the OpenAPI document or on PUBLIC; the ops listeners (worker, sink, delivery) serve OPS only. The routes are
read from the aiohttp apps the processes build, and the running processes are probed with every view Faust
would add by itself (expecting 404), so a Faust upgrade or a new page cannot slip in unnoticed."""

from __future__ import annotations

import dataclasses
import urllib.error
import urllib.request

import pytest
from faust.web import base as faust_web
from mode.utils.imports import symbol_by_name
from prometheus_client import CollectorRegistry

from schemas.openapi import document
from streams import ops_http
from streams.app import create_app
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.geofence.registry import GridRegistry
from tests.support.pipeline import running_pipeline

# Served on the public port beside the document's own paths: the document itself.
PUBLIC = {("GET", "/openapi.json")}
# The ops listener of every process: kept off the public side (REDWALL_*_METRICS_PORT).
OPS = {("GET", "/metrics"), ("GET", "/healthz")}
# Paths of Redwall's own that must stay off a port: the ops routes on the public one, and the reverse.
OURS = [
    "/metrics",
    "/healthz",
    "/debug/memory",
    "/openapi.json",
    "/v1/reports",
    "/v1/pings",
    "/v1/incidents/inc-c01-0123456789ab/actions",
    "/no-such-path",
]


def documented() -> set[tuple[str, str]]:
    doc = document(1000)
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item} | PUBLIC


def with_head(routes: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """HEAD is HTTP's own on every path: a GET without the body, or 405 (aiohttp and Faust add it)."""
    return routes | {("HEAD", path) for _, path in routes}


def served(app) -> set[tuple[str, str]]:
    return {(route.method, route.resource.canonical) for route in app.router.routes()}


def faust_views() -> list[str]:
    """A concrete path for every route of every view Faust ships (on by default or behind a setting)."""
    blueprints = (
        faust_web.DEFAULT_BLUEPRINTS
        + faust_web.PRODUCTION_BLUEPRINTS
        + faust_web.DEBUG_BLUEPRINTS
        + faust_web.OPTIONAL_BLUEPRINTS
    )
    paths = []
    for prefix, name in blueprints:
        for route in symbol_by_name(name).routes:
            uri = prefix.rstrip("/") + route.uri
            paths.append(uri.replace("{name}", "device_to_patrol_state").replace("{key}", "dev-0001"))
    return paths


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


async def test_the_worker_public_port_serves_only_the_documented_routes(settings):
    app = create_app(settings, GridRegistry.from_settings(settings))
    routes = served(await app.web.wsgi())  # what Faust hands aiohttp when the worker starts
    assert routes <= with_head(documented()), f"undocumented: {sorted(routes - with_head(documented()))}"
    assert {path for _, path in documented()} <= {path for _, path in routes}


def test_the_ops_listener_serves_only_metrics_and_health():
    assert served(ops_http.ops_app(CollectorRegistry(), "test")) == with_head(OPS)


def test_faust_ships_the_views_this_test_probes():
    """If Faust renames its blueprint lists, the probes below would quietly probe nothing."""
    assert {
        "/router/",
        "/table/device_to_patrol_state/dev-0001/",
        "/graph/",
        "/",
        "/assignment/",
        "/performance/",
    } <= set(faust_views())


@pytest.fixture(scope="module")
def processes(settings, tmp_path_factory):
    mine = dataclasses.replace(
        settings,
        web_port=free_port(),
        worker_metrics_port=free_port(),
        sink_metrics_port=free_port(),
        deliver_metrics_port=free_port(),
    )
    work = tmp_path_factory.mktemp("routes")
    deliver = RedwallProcess("deliver", mine, work).start()
    try:
        with running_pipeline(mine, work) as pipeline:
            deliver.wait_http(f"http://127.0.0.1:{mine.deliver_metrics_port}/healthz")
            yield mine, pipeline
    finally:
        deliver.stop()


def test_running_processes_answer_404_on_every_view_they_do_not_document(processes):
    s, pipeline = processes
    ports = {
        "worker (public)": (s.web_port, PUBLIC),
        "worker (ops)": (s.worker_metrics_port, OPS),
        "sink": (s.sink_metrics_port, OPS),
        "delivery": (s.deliver_metrics_port, OPS),
    }
    wrong = {}
    for process, (port, allowed) in ports.items():
        base = f"http://127.0.0.1:{port}"
        for _, path in sorted(allowed):
            if status(base + path) != 200:
                wrong[f"{process} {path}"] = status(base + path)
        for path in faust_views() + OURS:
            if ("GET", path) not in allowed and (code := status(base + path)) not in (404, 405):
                wrong[f"{process} {path}"] = code
    # The public API answers (a refusal without a credential), so the probes above reached the worker.
    assert status(f"{pipeline.url}/v1/incidents/inc-c01-0123456789ab/actions") == 405
    assert wrong == {}
