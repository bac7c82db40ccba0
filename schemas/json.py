"""The one JSON module: orjson behind two names, so the codec is chosen in one place."""

from __future__ import annotations

import orjson

JSONDecodeError = orjson.JSONDecodeError


def dumps(value) -> bytes:
    """orjson hands back each result in a buffer of at least 4 KiB. Records held by the ten thousand
    (a producer's queue, a batch of first sights) kept a worker ~80 MiB larger for good; an exact-size
    copy frees the buffer at once, for the next result to reuse (~1 µs a record)."""
    return bytes(memoryview(orjson.dumps(value)))


def loads(data: bytes | str):
    return orjson.loads(data)


def pretty(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
