"""Major-event periods (重大活动保障期) from TOML: when deadlines tighten and coverage rules apply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from config.errors import ConfigError
from config.files import read_toml
from config.settings import SAMPLE_MAJOR_EVENTS


@dataclass(frozen=True)
class Period:
    id: str
    name: str
    start: datetime
    end: datetime
    deadline_factor: float = 1.0
    min_on_post: int = 0
    min_on_post_by_grid: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def covers(self, when: datetime) -> bool:
        return self.start <= when < self.end

    def required_on_post(self, grid: str) -> int:
        return self.min_on_post_by_grid.get(grid, self.min_on_post)


@dataclass(frozen=True)
class MajorEvents:
    periods: tuple[Period, ...]

    def active(self, when: datetime) -> tuple[Period, ...]:
        return tuple(p for p in self.periods if p.covers(when))

    def deadline_factor(self, when: datetime) -> float:
        """The tightest factor of the periods in force (1.0 outside every period)."""
        return min((p.deadline_factor for p in self.active(when)), default=1.0)

    def with_period(self, period: Period) -> MajorEvents:
        """A copy with one more period, e.g. one switched on from the CLI."""
        return MajorEvents(tuple(p for p in self.periods if p.id != period.id) + (period,))


def load_major_events(path: Path = SAMPLE_MAJOR_EVENTS, known_grids: set[str] | None = None) -> MajorEvents:
    """Parse and check the file; every error names the file, the period and the key, with a fix."""
    data = read_toml(Path(path), "major-event periods")
    periods, seen = [], set()
    for index, raw in enumerate(data.get("period", [])):
        where = f"{path}: period #{index + 1} ({raw.get('id', 'no id')})"
        period = _period(raw, where)
        if period.id in seen:
            raise ConfigError(f"{where}: id is used twice; give every period its own id")
        unknown = set(period.min_on_post_by_grid) - (known_grids or set(period.min_on_post_by_grid))
        if unknown:
            raise ConfigError(
                f"{where}: min_on_post_by_grid names unknown grid {sorted(unknown)[0]!r}; "
                "use a grid id from the geometry file"
            )
        seen.add(period.id)
        periods.append(period)
    return MajorEvents(tuple(periods))


def _period(raw: dict, where: str) -> Period:
    unknown = set(raw) - {"id", "name", "start", "end", "deadline_factor", "min_on_post", "min_on_post_by_grid"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; check the spelling")
    for key in ("id", "name", "start", "end"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{where}: {key} is required and must be a string")
    start, end = _time(raw["start"], f"{where}: start"), _time(raw["end"], f"{where}: end")
    if end <= start:
        raise ConfigError(f"{where}: end must be after start")
    factor = raw.get("deadline_factor", 1.0)
    if not isinstance(factor, (int, float)) or not 0 < factor <= 1:
        raise ConfigError(f"{where}: deadline_factor must be a number in (0, 1]; 0.5 halves every deadline")
    by_grid = raw.get("min_on_post_by_grid", {})
    for key, value in [("min_on_post", raw.get("min_on_post", 0)), *by_grid.items()]:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}: {key} must be a whole number of workers, 0 or more")
    return Period(
        raw["id"], raw["name"], start, end, float(factor), raw.get("min_on_post", 0), MappingProxyType(dict(by_grid))
    )


def _time(value: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ConfigError(f"{where}: {value!r} is not an RFC 3339 time with an offset, e.g. 2027-03-03T00:00:00+08:00")
    return parsed
