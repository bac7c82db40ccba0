"""`python -m benchmarks.city` at a tiny size on the sample street: one worker and then two consume every ping
loaded (counted from the worker group's committed offsets), and the run ends with the scaling line the README
quotes. The figures at full size are in benchmarks/README.md; they are never asserted."""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_city_benchmark_consumes_every_ping_with_one_and_two_workers_and_ends_with_the_scaling_line():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.city", "--geometry", "config/sample/xichangan.geojson"]
        + ["--devices", "200", "--seconds", "60", "--per-record", "12", "--workers", "1,2"],
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"scaling: 2 workers \d+\.\d\d× 1 worker \(\d+ pings/s, \d+ pings/s\)", lines[-1]), done.stdout
    loaded = [
        int(m.replace(",", "")) for m in re.findall(r"^load: [\d,]+ records \(([\d,]+) pings\)", done.stdout, re.M)
    ]
    consumed = re.findall(r"^(\d) workers? .*: ([\d,]+) pings in .*?([\d,]+) position records", done.stdout, re.M)
    # 200 devices, one upload of 12 fixes each, loaded afresh for each run
    assert loaded == [2400, 2400], done.stdout
    assert [(n, int(p.replace(",", "")), int(r.replace(",", ""))) for n, p, r in consumed] == [
        ("1", 2400, 200),
        ("2", 2400, 200),
    ], done.stdout
    assert re.search(r"^broker alone .* records/s", done.stdout, re.M) and re.search(
        r"^sink alone: [\d,]+ rows/s", done.stdout, re.M
    ), done.stdout
