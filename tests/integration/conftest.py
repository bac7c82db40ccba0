"""The running pipeline (worker + sink processes) against the session's broker and Postgres."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from streams.processes import RedwallProcess


@dataclass
class Pipeline:
    worker: RedwallProcess
    sink: RedwallProcess
    url: str
    sink_metrics_url: str

    def wait_ready(self) -> None:
        self.worker.wait_http(f"{self.url}/metrics")
        self.sink.wait_http(self.sink_metrics_url)


@contextmanager
def running_pipeline(settings, log_dir):
    """Worker and sink processes on `settings`, ready, stopped on exit."""
    p = Pipeline(
        worker=RedwallProcess("worker", settings, log_dir).start(),
        sink=RedwallProcess("sink", settings, log_dir).start(),
        url=f"http://{settings.web_host}:{settings.web_port}",
        sink_metrics_url=f"http://127.0.0.1:{settings.sink_metrics_port}/metrics",
    )
    try:
        p.wait_ready()
        yield p
    finally:
        p.worker.stop()
        p.sink.stop()


@pytest.fixture(scope="module")
def pipeline(settings, tmp_path_factory):
    with running_pipeline(settings, tmp_path_factory.mktemp("pipeline")) as p:
        yield p
