"""The one JSON module: orjson behind two names, so the codec is chosen in one place."""

from __future__ import annotations

import orjson

JSONDecodeError = orjson.JSONDecodeError


def dumps(value) -> bytes:
    return orjson.dumps(value)


def loads(data: bytes | str):
    return orjson.loads(data)


def pretty(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
