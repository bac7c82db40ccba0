"""The running demo's address file: other commands in its directory read it (the environment wins), say so
in one line, and ignore it once the demo that wrote it is gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import addresses
from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stand_in():
    """A live process standing in for the demo that wrote a file (a file names its writer's pid)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def demo_file(directory: Path, pid: int, **values: str) -> Path:
    path = directory / addresses.FILE_NAME
    path.write_text(f"# pid {pid}: written by `redwall demo`\n" + "".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def test_written_private_and_read_back_and_removed_only_by_its_writer(tmp_path):
    path = addresses.write(tmp_path / addresses.FILE_NAME, {"REDWALL_BROKER": "127.0.0.1:1234"}, "test")
    assert path.stat().st_mode & 0o777 == 0o600
    found = addresses.read(path)
    assert found.pid == os.getpid() and found.live and found.values == {"REDWALL_BROKER": "127.0.0.1:1234"}
    demo_file(tmp_path, dead_pid(), REDWALL_BROKER="127.0.0.1:1")  # a later demo's file
    addresses.remove(path)
    assert path.exists()
    assert not addresses.read(path).live


def test_settings_take_what_the_environment_does_not_set(tmp_path, stand_in):
    found = addresses.read(demo_file(tmp_path, stand_in, REDWALL_BROKER="127.0.0.1:1234", REDWALL_WEB_PORT="7777"))
    settings = Settings.from_env({"REDWALL_WEB_PORT": "8888"}, addresses=found)
    assert (settings.broker, settings.web_port) == ("127.0.0.1:1234", 8888)
    stale = addresses.read(demo_file(tmp_path, dead_pid(), REDWALL_BROKER="127.0.0.1:1234"))
    assert Settings.from_env({}, addresses=stale).broker == Settings().broker


def redwall(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REDWALL_") and k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        timeout=60,
    )


def test_a_command_next_to_the_demo_uses_its_file_and_says_so(tmp_path, stand_in):
    demo_file(tmp_path, stand_in, REDWALL_WEB_PORT="7777", REDWALL_CONSOLE_PORT="7778")
    done = redwall(tmp_path, "settings")
    assert "REDWALL_WEB_PORT=7777" in done.stdout and "REDWALL_CONSOLE_PORT=7778" in done.stdout
    assert done.stderr.splitlines() == [
        f"redwall: reaching the demo running here (pid {stand_in}) through "
        f"./{addresses.FILE_NAME}; variables set in the environment win"
    ]
    done = redwall(tmp_path, "settings", REDWALL_WEB_PORT="8888")
    assert "REDWALL_WEB_PORT=8888" in done.stdout and "REDWALL_CONSOLE_PORT=7778" in done.stdout


def test_a_file_left_by_a_demo_that_died_is_ignored_in_one_line(tmp_path):
    pid = dead_pid()
    demo_file(tmp_path, pid, REDWALL_WEB_PORT="7777")
    done = redwall(tmp_path, "settings")
    assert "REDWALL_WEB_PORT=6066" in done.stdout
    assert done.stderr.splitlines() == [
        f"redwall: ignoring ./{addresses.FILE_NAME}: the demo that wrote it (pid {pid}) is not running"
    ]
