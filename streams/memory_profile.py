"""Where a worker's memory goes: a worker started with PYTHONTRACEMALLOC set serves GET /debug/memory,
the top allocation sites traced by tracemalloc; `python -m benchmarks.patrol --profile-memory` reads it.

Off unless tracing is on, since tracing slows a worker two- to threefold; nothing else changes.
"""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import faust
from faust.web import Request, Response, View

TOP = 30


def install(app: faust.App) -> None:
    if not tracemalloc.is_tracing():
        return

    @app.page("/debug/memory")
    class Memory(View):
        """JSON: traced bytes now and at peak, RSS, and the TOP sites by bytes (file:line and by file)."""

        async def get(self, request: Request) -> Response:
            return self.json(report(int(request.query.get("top", TOP))))


def report(top: int = TOP) -> dict:
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces(
        (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>"))
    )
    current, peak = tracemalloc.get_traced_memory()
    return {
        "traced_mib": current / 2**20,
        "peak_mib": peak / 2**20,
        "rss_mib": rss_mib(),
        "by_line": [_site(s) for s in snapshot.statistics("lineno")[:top]],
        "by_file": [_site(s) for s in snapshot.statistics("filename")[:top]],
    }


def _site(stat: tracemalloc.Statistic) -> dict:
    frame = stat.traceback[0]
    return {"site": f"{_short(frame.filename)}:{frame.lineno}", "mib": stat.size / 2**20, "blocks": stat.count}


def _short(filename: str) -> str:
    """site-packages/faust/tables/base.py rather than the whole path."""
    parts = Path(filename).parts
    for anchor in ("site-packages", "lib"):
        if anchor in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(anchor) :])
    return "/".join(parts[-3:])


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
