"""The demo's child processes: started in order, each once the one before answers; restarted when one
exits (a process that lost the broker exits on purpose); stopped phones first, so what they sent drains
through before the summary is counted."""

from __future__ import annotations

import time
from pathlib import Path

from config.settings import Settings
from streams.demo import day as demo_day
from streams.demo.embedded import EmbeddedBroker
from streams.demo.processes import GaveUp, RedwallProcess, Supervisor

STOP_TIMEOUT = 15.0


class Children:
    ORDER = ("simulate", "dispatchers", "hotline", "worker", "sink", "deliver", "console", "inbox")
    SOURCES = ("simulate", "dispatchers", "hotline")  # what puts new records in; stopped before the summary

    def __init__(self, settings: Settings, workdir: Path, broker: EmbeddedBroker | None = None):
        self.settings, self.workdir, self.broker = settings, workdir, broker
        self.procs: dict[str, RedwallProcess] = {}

    def start(self, name: str, command: str, *args: str) -> RedwallProcess:
        self.procs[name] = RedwallProcess(command, self.settings, self.workdir, *args, log_name=name).start()
        return self.procs[name]

    def start_all(self, inbox_port: int, devices: int, bad_records: bool, dispatchers: bool, hotline: bool) -> None:
        s, host = self.settings, self.settings.web_host
        self.start("worker", "worker").wait_http(f"http://{host}:{s.worker_metrics_port}/metrics")
        self.start("sink", "sink").wait_http(f"http://{host}:{s.sink_metrics_port}/metrics")
        self.start("inbox", "inbox", "--port", str(inbox_port))
        self.start("deliver", "deliver").wait_http(f"http://{host}:{s.deliver_metrics_port}/metrics")
        self.start("console", "console").wait_http(f"http://{host}:{s.console_port}/static/console.css")
        if devices or bad_records:
            self.start(
                "simulate",
                "simulate",
                "--devices",
                str(devices),
                "--tokens",
                str(self.workdir / "device-tokens"),
                "--reports-per-minute",
                f"{demo_day.REPORTS_PER_MINUTE:.3f}",
                *(["--bad-records"] if bad_records else []),
            )
        if dispatchers:
            self.start("dispatchers", "simulate-dispatchers", "--tokens", str(self.workdir / "dispatcher-tokens"))
        if hotline:
            self.start("hotline", "simulate-hotline", "--token", str(self.workdir / "hotline-token"))

    def supervise(self, duration: float | None, summary) -> tuple[int, str | None]:
        """Until `duration` ends or Ctrl-C: (exit code, summary); a child that keeps dying ends it with 1."""
        deadline = time.monotonic() + duration if duration else None
        supervisor = Supervisor(self.procs)
        try:
            while deadline is None or time.monotonic() < deadline:
                try:
                    self._restart_broker()
                    supervisor.check()
                except GaveUp as gave_up:
                    print(f"redwall demo: {gave_up}", flush=True)
                    return 1, None
                time.sleep(0.5)
        except KeyboardInterrupt:
            print(
                "\nstopping: the phones and dispatchers first, then counting what reached PostgreSQL "
                "(Ctrl-C again skips the count) ...",
                flush=True,
            )
        return 0, self._summary(summary)

    def _summary(self, summary) -> str | None:
        try:
            for name in self.SOURCES:
                if name in self.procs:
                    self.procs[name].stop(timeout=STOP_TIMEOUT)
            return summary()
        except KeyboardInterrupt:
            print("summary skipped", flush=True)
            return None

    def _restart_broker(self) -> None:
        """Tansu died: start it again, empty; the children notice and restart (streams/broker_epoch.py)."""
        if self.broker is not None and self.broker.exited is not None:
            print(
                f"redwall demo: the broker exited with {self.broker.exited}; starting it again, empty "
                f"(log: {self.broker.log_path})",
                flush=True,
            )
            self.broker.start()

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc) -> None:
        for name in self.ORDER:
            if name in self.procs:
                try:
                    self.procs[name].stop(timeout=STOP_TIMEOUT)
                except KeyboardInterrupt:  # another Ctrl-C: the rest die with us (die_with_parent)
                    return
