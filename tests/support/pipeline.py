"""The running pipeline (worker + sink processes) on given settings, for any test that needs it."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from streams.demo.processes import RedwallProcess


@dataclass
class Pipeline:
    worker: RedwallProcess
    sink: RedwallProcess
    url: str
    worker_metrics_url: str
    sink_metrics_url: str

    def wait_ready(self) -> None:
        self.worker.wait_http(self.worker_metrics_url)
        self.worker.wait_http(f"{self.url}/openapi.json")  # the public port comes up after the ops listener
        self.sink.wait_http(self.sink_metrics_url)


@contextmanager
def running_pipeline(settings, log_dir):
    """Worker and sink processes on `settings`, ready, stopped on exit."""
    p = Pipeline(
        worker=RedwallProcess("worker", settings, log_dir).start(),
        sink=RedwallProcess("sink", settings, log_dir).start(),
        url=f"http://{settings.web_host}:{settings.web_port}",
        worker_metrics_url=f"http://127.0.0.1:{settings.worker_metrics_port}/metrics",
        sink_metrics_url=f"http://127.0.0.1:{settings.sink_metrics_port}/metrics",
    )
    try:
        p.wait_ready()
        yield p
    finally:
        p.worker.stop()
        p.sink.stop()
