"""`redwall` subcommands as child processes: for the demo, the integration tests and the benchmark."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from config.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child read exactly these settings."""
    env = dict(os.environ)
    for name, _, value in settings.describe():
        env[name] = str(value)
    return env


class RedwallProcess:
    """One `redwall COMMAND` child, logging to LOG_DIR/COMMAND.log (or LOG_NAME.log), that can be killed and
    restarted."""

    def __init__(self, command: str, settings: Settings, log_dir: Path, *args: str, log_name: str | None = None):
        self.command, self.args = command, args
        self.env = settings_env(settings)
        self.log_path = Path(log_dir) / f"{log_name or command}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedwallProcess:
        with open(self.log_path, "ab") as log:
            # Its own session, so a Ctrl-C in the terminal reaches only the parent, which then
            # stops its children in order; and it dies with the parent, so none is left behind.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", self.command, *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        return self

    @property
    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no last commit; what a crash looks like."""
        self.stop(signal.SIGKILL)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        """Block until URL answers; fail early, with the log's tail, if the process died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exited is not None:
                raise RuntimeError(f"{self.command} exited with {self.exited}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"{self.command} did not answer at {url}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class GaveUp(RuntimeError):
    """A child kept exiting: restarting it again would only hide the failure."""


class Supervisor:
    """Starts again any child that exited, as `restart:` does in docker-compose. A process that lost its
    broker exits on purpose (streams/broker_epoch.py) and counts on this; one that keeps dying is given up."""

    def __init__(self, procs: dict[str, RedwallProcess], *, max_restarts: int = 5, window: float = 60.0):
        self.procs, self.max_restarts, self.window = procs, max_restarts, window
        self.restarts: list[tuple[str, int, float]] = []  # (command, exit code, time.monotonic())

    def check(self) -> list[str]:
        """Restart the children that exited since the last check; their names."""
        restarted = []
        for name, proc in self.procs.items():
            code = proc.exited
            if code is None:
                continue
            now = time.monotonic()
            recent = [t for n, _, t in self.restarts if n == name and now - t < self.window]
            if len(recent) >= self.max_restarts:
                raise GaveUp(
                    f"{name} exited with {code} {len(recent) + 1} times within {self.window:.0f} s; "
                    f"see {proc.log_path}:\n{proc.log_tail(10)}"
                )
            print(f"redwall: {name} exited with {code}; starting it again (log: {proc.log_path})", flush=True)
            proc.start()
            self.restarts.append((name, code, now))
            restarted.append(name)
        return restarted


def die_with_parent() -> None:
    """For `preexec_fn` (Linux): SIGTERM to the child when its parent dies, even by SIGKILL, so no
    broker, database or Redwall process outlives the one that started it."""
    with contextlib.suppress(OSError):  # not Linux: the parent's normal stop path still stops the children
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
