"""What the credential cache costs at city scale: full load, memory, lookup, and revocation latency.

    python -m benchmarks.credentials [--devices 100000]

An embedded Postgres is started and migrated, the devices' credentials written with COPY, then one
CredentialCache loads them the way a worker does at start and on every periodic reload.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from sinks.credentials import revoke, token_hash
from sinks.migrate import migrate
from streams.credentials import CredentialCache
from streams.demo.embedded import EmbeddedPostgres


async def measure(dsn: str, devices: int) -> None:
    await migrate(dsn)
    tokens = [f"bench-token-{n}" for n in range(devices)]
    now = datetime.now(UTC)
    conn = await asyncpg.connect(dsn)
    rows = [("device", f"bench-{n:06d}", token_hash(t), now) for n, t in enumerate(tokens)]
    await conn.copy_records_to_table(
        "credentials", records=rows, columns=("kind", "subject", "token_sha256", "created_at")
    )
    cache = CredentialCache(lambda: asyncpg.connect(dsn))
    tracemalloc.start()
    task = cache.start()
    started = time.perf_counter()
    await cache.wait_ready(120)
    loaded = time.perf_counter() - started
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    reload_started, cpu_started = time.perf_counter(), time.process_time()
    await cache.reload()
    reloaded, reload_cpu = time.perf_counter() - reload_started, time.process_time() - cpu_started
    sample = tokens[:: max(1, devices // 10_000)]
    started = time.perf_counter()
    for token in sample:
        assert (await cache.identify(token)) is not None
    per_lookup = (time.perf_counter() - started) / len(sample)
    latencies = []
    for n in range(20):
        await revoke(conn, "device", f"bench-{n:06d}")
        revoked = time.perf_counter()
        while not cache.table[token_hash(tokens[n])].revoked:
            await asyncio.sleep(0)
        latencies.append(time.perf_counter() - revoked)
    task.cancel()
    await conn.close()
    print(f"credentials: {len(cache.table):,} devices")
    print(
        f"first load {loaded:.2f} s (memory traced), periodic reload {reloaded:.2f} s of which {reload_cpu:.2f} s "
        f"CPU in this process (the event loop is busy that long), cache memory {memory / 2**20:.1f} MiB"
    )
    print(f"identify(): {per_lookup * 1e6:.1f} us per request (SHA-256 and a dict lookup)")
    print(
        f"revocation -> cache (same process, LISTEN/NOTIFY): median {statistics.median(latencies) * 1000:.2f} ms, "
        f"max {max(latencies) * 1000:.2f} ms over {len(latencies)}"
    )


def cli(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.credentials",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--devices", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="redwall-credentials-") as workdir:
        with EmbeddedPostgres(Path(workdir) / "pg") as postgres:
            asyncio.run(measure(postgres.url, args.devices))


if __name__ == "__main__":
    cli()
