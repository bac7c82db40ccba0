"""`python -m benchmarks.history` at a tiny size, in its own embedded PostgreSQL: it writes the history it says
(workers x days x one 8-hour shift of fixes) and ends with the line the README quotes. The figures at full
size are in benchmarks/README.md; they are never asserted."""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_history_benchmark_writes_its_fixes_and_ends_with_the_p95_line():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.history",
            "--workers",
            "3",
            "--days",
            "1",
            "--fix-seconds",
            "60",
            "--queries",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    # 3 workers, 1 day, 8 hours with a fix a minute
    assert re.fullmatch(r"who-was-here p95 \d+ ms over 1440 fixes", last), done.stdout
    assert re.search(r"^patrol day: \d+ ms for 3 workers \(3 walked\)", done.stdout, re.M), done.stdout
