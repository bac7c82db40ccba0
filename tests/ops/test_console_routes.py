"""The console serves its documented routes and nothing else: a route added without being documented
here (and in the docstring of consumers/console/app.py) fails this test, as does one documented but gone."""

from __future__ import annotations

from config.settings import Settings
from consumers.console.app import create_console
from consumers.console.feed import ConsoleFeed

# method, path: the console's routes as consumers/console/app.py's docstring lists them (HEAD comes with every GET).
from tests.support.console_routes import DOCUMENTED


def console_routes() -> set[tuple[str, str]]:
    app = create_console(Settings.from_env(), ConsoleFeed(Settings.from_env()))
    routes = set()
    for route in app.router.routes():
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if route.method != "HEAD":
            routes.add((route.method, path))
    return routes


def test_the_console_serves_only_its_documented_routes():
    served = console_routes()
    assert served - DOCUMENTED == set(), "routes served but not documented"
    assert DOCUMENTED - served == set(), "routes documented but not served"
