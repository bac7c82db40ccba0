"""How keys by street spread over partitions: with S streets over P partitions, how many streets the fullest
partition holds against the mean S/P, placed by Kafka's key hash (murmur2, as aiokafka's DefaultPartitioner and
the Java client place a keyed record; streams/patrol/agents.partition_of).

Computed, not measured: for the street ids given (a geometry's, else the sample district's: Xicheng's 15 streets
in pinyin, s001..s343 for the synthetic city), and over many random namings of as many streets, since which ids
collide is luck.
`python -m benchmarks.partitions [--geometry FILE] [--pairs 15:4,15:8,343:24,343:48] [--namings 1000]
[--devices 100000]`; the devices' spread (pings are keyed by device) is printed beside it.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections import Counter

from config.geometry import load_geometry
from config.sample.district import STREETS
from streams.patrol.agents import partition_of


def spread(keys: list[str], partitions: int) -> tuple[int, float]:
    """The keys on the fullest partition, and that against the mean (1.0: even)."""
    fullest = max(Counter(partition_of(k, partitions) for k in keys).values())
    return fullest, fullest / (len(keys) / partitions)


def streets(count: int, named: list[str] | None) -> list[str]:
    """The geometry's ids when it has `count` streets, else the sample district's (config/sample/district.py):
    Xicheng's 15 in pinyin, or the synthetic city's s001, s002, ..."""
    if named is not None and len(named) == count:
        return named
    return [s[0] for s in STREETS] if count == len(STREETS) else [f"s{n:03d}" for n in range(1, count + 1)]


def luck(count: int, partitions: int, namings: int, seed: int = 19) -> tuple[float, float, float]:
    """Over random namings of `count` streets: the median, 95th percentile and worst fullest-to-mean ratio."""
    rng = random.Random(seed)
    ratios = sorted(
        spread([f"{rng.getrandbits(40):010x}" for _ in range(count)], partitions)[1] for _ in range(namings)
    )
    return statistics.median(ratios), ratios[int(0.95 * (namings - 1))], ratios[-1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.partitions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--geometry", help="take the street ids of this geometry file (for its street count)")
    parser.add_argument("--pairs", default="15:4,15:8,343:24,343:48", help="streets:partitions, comma-separated")
    parser.add_argument("--namings", type=int, default=1000, help="random namings per pair")
    parser.add_argument("--devices", type=int, default=100_000, help="phones (pings are keyed by device) to compare")
    args = parser.parse_args(argv)
    named = list(load_geometry(args.geometry, check_areas=False).streets) if args.geometry else None
    for pair in args.pairs.split(","):
        count, partitions = (int(n) for n in pair.split(":"))
        ids = streets(count, named)
        fullest, ratio = spread(ids, partitions)
        median, p95, worst = luck(count, partitions, args.namings)
        print(
            f"streets {count} over {partitions} partitions (mean {count / partitions:.2f}): "
            f"{ids[0]}..: fullest {fullest} streets, {ratio:.2f}x the mean; "
            f"{args.namings} random namings: median {median:.2f}x, p95 {p95:.2f}x, worst {worst:.2f}x"
        )
    devices = [f"dev-{n:06d}" for n in range(args.devices)]
    for partitions in sorted({int(pair.split(":")[1]) for pair in args.pairs.split(",")}):
        fullest, ratio = spread(devices, partitions)
        print(f"devices {args.devices} over {partitions} partitions: fullest {fullest}, {ratio:.3f}x the mean")


if __name__ == "__main__":
    main()
