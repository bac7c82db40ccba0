"""The process shell of `redwall sink`, `redwall deliver` and `redwall console`, written once.

`run` gives a process its event loop (uvloop when installed, as the worker has); `serve` wraps its work in
what every one of them does: SIGINT or SIGTERM set a stop event (the work finishes what it holds), the schema
is migrated (or waited for), the Kafka client options are built once and handed to the work, the ops
listener answers /metrics and /healthz (streams/ops_http.py) when the process has a port for it, and the
broker's epoch is watched (streams/broker_epoch.py: a broker that lost its log ends the process for a
restart). The worker's shell is Faust's (streams/app.py), with the same loop, schema, options and watch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine

from prometheus_client import CollectorRegistry

from config.settings import Settings
from sinks.migrate import prepare_schema
from streams import ops_http
from streams.broker_epoch import run_watched
from streams.clock import stop_on_signals
from streams.topics import client_options

# A process's work: given its Kafka client options and its stop event, runs until the event is set.
Work = Callable[[dict, asyncio.Event], Coroutine]


def loop_factory():
    try:
        import uvloop
    except ImportError:
        return None  # asyncio's own loop: slower on batched records, otherwise the same
    return uvloop.new_event_loop


def run(main: Callable[[], Coroutine]) -> None:
    """Run a process's `main()` to its end on its own event loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main())


async def serve(
    settings: Settings,
    process: str,
    work: Work,
    *,
    stop: asyncio.Event | None = None,
    kafka: dict | None = None,
    ops: tuple[CollectorRegistry, int] | None = None,
) -> None:
    """Run `work` as the process `process` until `stop` (default: SIGINT or SIGTERM); `ops`: the registry
    and port of its ops listener, if it has one (the console answers /metrics on its own port)."""
    stop, kafka = stop or stop_on_signals(), client_options(settings, kafka)
    await prepare_schema(settings)  # migrated by the owner, or waiting for `redwall migrate`
    async with contextlib.AsyncExitStack() as stack:
        if ops is not None:
            registry, port = ops
            await stack.enter_async_context(ops_http.serving(registry, process, settings.web_host, port))
        await run_watched(settings, process, work(kafka, stop), stop, kafka=kafka)
