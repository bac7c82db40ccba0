"""One worker and one sink for every hostile-input test, on ports of their own."""

from __future__ import annotations

import dataclasses

import pytest

from streams.demo.embedded import free_port
from tests.support.pipeline import Pipeline, running_pipeline


@pytest.fixture(scope="package")
def api(settings, tmp_path_factory) -> Pipeline:
    """The real pipeline (worker + sink processes) against the session's broker and Postgres."""
    # No rate limit: the tests post hundreds of requests per device as fast as the worker answers.
    mine = dataclasses.replace(
        settings,
        web_port=free_port(),
        worker_metrics_port=free_port(),
        sink_metrics_port=free_port(),
        device_rate_per_second=0,
    )
    with running_pipeline(mine, tmp_path_factory.mktemp("hostile")) as p:
        yield p


@pytest.fixture(autouse=True)
def no_agent_crashed(api):
    """A Faust agent that crashes is restarted in place, so a live process is not enough: read its log."""
    yield
    log = api.worker.log_path.read_text(errors="replace")
    assert "Crashed reason=" not in log and "exception was never retrieved" not in log, api.worker.log_tail(80)
    assert api.worker.exited is None and api.sink.exited is None
