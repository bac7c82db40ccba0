"""What `redwall major-event start` tells a person: the period in the street's time, to the minute."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path

from streams.cli.main import main
from streams.demo.processes import settings_env
from streams.topics import ensure_topics


def test_a_major_event_is_announced_in_the_streets_time(settings, monkeypatch, capsys, tmp_path):
    mine = dataclasses.replace(settings, topic_actions=f"cli{uuid.uuid4().hex[:6]}.{settings.topic_actions}")
    asyncio.run(ensure_topics(mine, (mine.topic_actions,)))
    for name, value in settings_env(mine).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    assert main(["major-event", "start", "drill", "--hours", "2.5", "--start", "2027-03-03T00:00:00+00:00"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "major event drill (重大活动保障期) in force 2027-03-03 08:00 .. 2027-03-03 10:30 "
        "(Asia/Shanghai), deadlines x0.5, sent to 4 partitions"
    ), out


def test_output_cut_short_by_the_reader_ends_quietly(tmp_path):
    """`redwall devices list | head`: a reader that stops early closes the pipe; no traceback, and the
    exit status a shell expects of SIGPIPE (141). `true` reads nothing, so every write finds it closed."""
    import subprocess
    import sys

    shell = subprocess.run(
        ["bash", "-c", f"set -o pipefail; '{sys.executable}' -m streams.cli settings | true"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    assert (shell.returncode, shell.stderr) == (141, ""), shell.stderr
