"""`python -m benchmarks.city` at a small size on the sample street: one worker and then two consume every ping
loaded (counted from the worker group's committed offsets), and the run ends with the scaling line the README
quotes. The figures at full size are in benchmarks/README.md; they are never asserted.

The size makes the count mean something: a worker takes at most 2,000 records a batch (streams/geofence/agents.py)
and commits every 1,000 records or second (streams/app.py), so 6,000 records take several commits; the first one
the benchmark saw covered 1,004-1,074 records with one worker and 1,065-2,054 with two (2026-12-07). A wait that
ended early printed fewer: 2,008 and 2,178 pings when stopped at the first commit, 0 position records when it
left out patrol's positions. 2 pings a record keep the per-record multiplication in the count; the run took
41-45 s here beside other jobs, the tiny one 40 s (a record costs Faust more than its pings do).
"""

from __future__ import annotations

import re
import subprocess
import sys

DEVICES, UPLOADS, PER_RECORD = 1000, 6, 2  # a fix every 5 s: 6 uploads of 2 are a minute of fixes
RECORDS = DEVICES * UPLOADS


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_city_benchmark_consumes_every_ping_with_one_and_two_workers_and_ends_with_the_scaling_line():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.city", "--geometry", "config/sample/xichangan.geojson"]
        + ["--devices", str(DEVICES), "--seconds", str(UPLOADS * PER_RECORD * 5), "--per-record", str(PER_RECORD)]
        + ["--workers", "1,2"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    print(done.stdout)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"scaling: 2 workers \d+\.\d\d× 1 worker \(\d+ pings/s, \d+ pings/s\)", lines[-1]), done.stdout
    loaded = re.findall(r"^load: ([\d,]+) records \(([\d,]+) pings\)", done.stdout, re.M)
    consumed = re.findall(r"^(\d) workers? .*: ([\d,]+) pings in .*?([\d,]+) position records", done.stdout, re.M)
    # loaded afresh for each run, and every record of it geofenced and handled by patrol
    assert [(number(r), number(p)) for r, p in loaded] == [(RECORDS, RECORDS * PER_RECORD)] * 2, done.stdout
    assert [(n, number(p), number(r)) for n, p, r in consumed] == [
        ("1", RECORDS * PER_RECORD, RECORDS),
        ("2", RECORDS * PER_RECORD, RECORDS),
    ], done.stdout
    assert re.search(r"^broker alone .* records/s", done.stdout, re.M) and re.search(
        r"^sink alone: [\d,]+ rows/s", done.stdout, re.M
    ), done.stdout
