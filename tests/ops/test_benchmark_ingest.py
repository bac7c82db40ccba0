"""`python -m benchmarks.ingest` at a tiny size (50 devices, 5 s): the client's every post is answered 202, the
worker drains what it accepted, and the run ends with the line the README quotes. The figures at full size
are in benchmarks/README.md; they are never asserted."""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_ingest_benchmark_has_every_post_accepted_and_ends_with_the_ingest_line():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest", "--devices", "50", "--seconds", "5", "--concurrency", "8"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"ingest: \d+ pings/s accepted, \d+ pings per worker CPU second", lines[-1]), done.stdout
    posting = re.search(r"^posting .* accepted \(202: ([\d,]+)\); refused none;", done.stdout, re.M)
    assert posting and int(posting[1].replace(",", "")) > 0, done.stdout
    # The geofence + patrol run consumed as many records as the edge accepted (rounded up to whole uploads).
    loaded = re.search(r"^load: ([\d,]+) records", done.stdout, re.M)
    assert loaded and int(loaded[1].replace(",", "")) >= int(posting[1].replace(",", "")), done.stdout
    assert re.search(r"^drain: every accepted ping geofenced", done.stdout, re.M), done.stdout
