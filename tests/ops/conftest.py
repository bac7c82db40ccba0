"""One observed run for the ops tests: the worker and sink processes, a real Prometheus scraping them
every second on loopback, and a short simulator run through the ingest API."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from streams.embedded import free_port
from streams.processes import RedwallProcess
from tests.integration.conftest import Pipeline

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "config" / "prometheus" / "rules.yml"
SIMULATION_SECONDS = 40


@dataclass
class Observed:
    pipeline: Pipeline
    prometheus_url: str


def prometheus_config(settings, rules: Path) -> dict:
    """Like config/prometheus/prometheus.yml, with loopback targets and 1 s intervals."""
    targets = {"worker": f"127.0.0.1:{settings.web_port}", "sink": f"127.0.0.1:{settings.sink_metrics_port}"}
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}
                           for job, target in targets.items()],
    }


def start_prometheus(config: dict, work: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: apt-get install prometheus (see .ci/run)")
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(work / "prometheus.log", "wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode}:\n{(work / 'prometheus.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("prometheus did not become ready within 30 s")


@pytest.fixture(scope="package")
def observed(settings, tmp_path_factory):
    work = tmp_path_factory.mktemp("ops")
    pipeline = Pipeline(
        worker=RedwallProcess("worker", settings, work).start(),
        sink=RedwallProcess("sink", settings, work).start(),
        url=f"http://{settings.web_host}:{settings.web_port}",
        sink_metrics_url=f"http://127.0.0.1:{settings.sink_metrics_port}/metrics",
    )
    prometheus = None
    try:
        pipeline.wait_ready()
        prometheus, url = start_prometheus(prometheus_config(settings, RULES), work)
        simulator = RedwallProcess("simulate", settings, work, "--duration", str(SIMULATION_SECONDS),
                                   "--ping-interval", "1", "--devices", "40").start()
        simulator.proc.wait(SIMULATION_SECONDS + 60)
        assert simulator.exited == 0, simulator.log_tail()
        time.sleep(3)  # the last batches reach the sink, and Prometheus scrapes them and evaluates the rules
        yield Observed(pipeline, url)
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(10)
        pipeline.worker.stop()
        pipeline.sink.stop()
