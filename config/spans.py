"""A limit as written in the rules: calendar time (`4h`, `7d`) or working time (`4wh`, `7wd`), counted by
the working calendar (config/calendar.py). Its own module so that every config file's checker reads one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.records import SPAN_PATTERN

_SPAN = re.compile(SPAN_PATTERN)
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "wh": 3600}  # wd: the calendar's working day


@dataclass(frozen=True)
class Span:
    """A limit as written: `amount` of `unit` (s, m, h, d: calendar time; wh, wd: working time)."""

    amount: float
    unit: str

    @property
    def working(self) -> bool:
        return self.unit in ("wh", "wd")

    @property
    def text(self) -> str:
        return f"{self.amount:g}{self.unit}"

    def __mul__(self, factor: float) -> Span:
        return Span(self.amount * factor, self.unit)

    def __str__(self) -> str:
        return self.text


def parse_span(text: str) -> Span:
    """`4h`, `30m`, `7d`, `4wh`, `7wd` (a positive number and a unit); ValueError saying what is wrong."""
    match = _SPAN.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or float(match.group(0)[: -len(match.group(2))]) <= 0:
        raise ValueError(
            f"{text!r} is not a limit: write a positive number and a unit, s m h d (calendar time) "
            'or wh wd (working hours, working days), e.g. "4h", "7d", "4wh", "7wd"'
        )
    unit = match.group(2)
    return Span(float(match.group(0)[: -len(unit)]), unit)
