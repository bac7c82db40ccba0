"""Debian's promtool run on config/prometheus/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "config" / "prometheus"


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: apt-get install prometheus (see .ci/run)")
    return subprocess.run([binary, *args], input=stdin, capture_output=True, cwd=PROMETHEUS_DIR, timeout=60)
