"""The console's routes as consumers/console/app.py's docstring lists them (HEAD comes with every GET)."""

from __future__ import annotations

DOCUMENTED = {
    ("GET", "/"),  # the page; `/?token=` signs in and redirects at once to `/`
    ("GET", "/signin"),
    ("POST", "/signin"),
    ("POST", "/signout"),
    ("GET", "/favicon.ico"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
    ("GET", "/api/names"),
    ("GET", "/api/geometry"),
    ("GET", "/api/snapshot"),
    ("GET", "/api/calendar"),
    ("GET", "/api/events"),
    ("GET", "/api/incidents/{incident}"),
    ("POST", "/api/incidents/{incident}/actions"),
    ("GET", "/api/hotline/orders"),
    ("GET", "/api/hotline/rates"),
    ("GET", "/api/presence"),
    ("POST", "/api/presence"),
    ("GET", "/api/tasks"),
    ("POST", "/api/tasks"),
    ("GET", "/api/tasks/candidates"),
    ("GET", "/api/tasks/{task}"),
    ("POST", "/api/tasks/{task}/cancel"),
    ("GET", "/api/patrol/day"),
    ("GET", "/api/reports"),
    ("GET", "/reports/{week}.{kind}"),  # the docstring's /reports/{week}.html and .pdf
    ("GET", "/static"),  # the page's own files, console/static/
}
