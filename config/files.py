"""Reading config files: one place that turns an unreadable or malformed file into a ConfigError, and the
checks every TOML file shares (a key, a table, a duration, a number, a choice), each failing the same way."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path

from config.errors import ConfigError
from config.spans import Span, parse_span

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def read_toml(path: str | Path, what: str, error: type[ConfigError] = ConfigError) -> dict:
    """The parsed TOML document; `what` names the file's role in the message (`the roster`)."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from None


class TomlChecker:
    """Small checks that all fail the same way: file, key, problem, fix."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {problem}; {fix}")

    def known(self, table: dict, prefix: str, keys: set[str]) -> None:
        unknown = sorted(set(table) - keys)
        if unknown:
            raise self.fail(prefix + unknown[0], "unknown key", f"use one of {', '.join(sorted(keys))}")

    def table(self, data: dict, key: str, where: str | None = None) -> dict:
        value = data.get(key)
        if not isinstance(value, dict):
            raise self.fail(where or key, "missing or not a table", f"add a [{where or key}] table")
        return value

    def duration(self, table: dict, key: str) -> timedelta:
        raw = table.get(key.rsplit(".", 1)[1])
        match = _DURATION.fullmatch(raw) if isinstance(raw, str) else None
        if match is None or float(match.group(1)) <= 0:
            raise self.fail(key, f"{raw!r} is not a duration", 'write a positive number and a unit, e.g. "30m" or "4h"')
        return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})

    def span(self, table: dict, key: str) -> Span:
        """A limit: calendar time (`4h`, `7d`) or working time (`4wh`, `7wd`)."""
        try:
            return parse_span(table.get(key.rsplit(".", 1)[1]))
        except ValueError as exc:
            raise self.fail(key, str(exc).split(": ", 1)[0], str(exc).split(": ", 1)[1]) from None

    def integer(self, table: dict, key: str, low: int, high: int) -> int:
        value = table.get(key.rsplit(".", 1)[1])
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self.fail(key, f"{value!r} is not a whole number in {low}..{high}", f"use {low}..{high}")
        return value

    def choice(self, value, key: str, allowed) -> str:
        if value not in allowed:
            raise self.fail(key, f"{value!r} is not allowed", f"use one of {', '.join(allowed)}")
        return value

    def number(self, table: dict, key: str, low: float, high: float) -> float:
        value = table.get(key.rsplit(".", 1)[1])
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
            raise self.fail(key, f"{value!r} is not a number in {low}..{high}", f"use {low}..{high}")
        return float(value)
