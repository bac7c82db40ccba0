"""The street's working calendar (config/calendar.toml) and the limits that count on it.

A limit is calendar time (`4h`, `7d`) or working time (`4wh` working hours, `7wd` working days of
`[hours] day` each, 8 h by default). Working time runs only inside the working hours of working days:
a weekday with hours that is no public holiday, or a make-up working day (调休). The years the
`chinesecalendar` package knows come from it; later years from one file per year in the holidays folder
(`REDWALL_HOLIDAYS`, config/holidays/), taken from the State Council's notice. A year in both is the
file's. `load_calendar` refuses, naming the file, a calendar that does not cover the next `[cover] days`
(60): the next year's arrangement is published late in the year, and a deadline must never be guessed.

Pauses stop every clock, calendar or working: `deadline(start, span, pauses)` is the instant at which
`span` of counted time has passed since `start`, not counting any pause. Pure; one instance per street.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar

from config.errors import ConfigError
from config.files import TomlChecker, read_toml
from config.spans import UNIT_SECONDS, Span
from schemas.display import zone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"([0-2][0-9]):([0-5][0-9])-([0-2][0-9]):([0-5][0-9])")
_FAR = 3660  # days: a limit that needs more than ten years of calendar to pass is refused, not looped on

Pause = tuple[datetime, datetime | None]  # (from, to); to None: not ended


class NotCovered(ValueError):
    """A limit runs into a day the calendar does not know (no package data, no holidays file)."""


@dataclass(frozen=True)
class WorkingCalendar:
    tz: ZoneInfo
    hours: dict[str, tuple[tuple[time, time], ...]]  # weekday -> working hours; "makeup" for 调休 days
    day: timedelta  # one working day (`wd`) in working time
    holidays: frozenset[date]  # days off that would be working days
    workdays: frozenset[date]  # make-up working days (调休) that would be days off
    years: frozenset[int]  # the years the calendar knows
    sources: dict[int, str]  # year -> where it came from (the package, or a file)

    # -- what a day is ----------------------------------------------------------------------------
    def covers(self, day: date) -> bool:
        return day.year in self.years

    def hours_of(self, day: date) -> tuple[tuple[time, time], ...]:
        if not self.covers(day):
            raise NotCovered(
                f"the working calendar does not know {day.year} ({day}): add the State Council's arrangement "
                f"for {day.year} as {day.year}.toml in the holidays folder (REDWALL_HOLIDAYS)"
            )
        if day in self.workdays:
            return self.hours["makeup"]
        if day in self.holidays:
            return ()
        return self.hours[WEEKDAYS[day.weekday()]]

    def _segments(self, start: datetime, working: bool) -> Iterator[tuple[datetime, datetime]]:
        """The stretches of time that count from `start` on, in order: working hours, or all of time."""
        day = start.astimezone(self.tz).date()
        for _ in range(_FAR):
            begin = datetime.combine(day, time(), self.tz)
            following = day + timedelta(days=1)
            if not working:
                yield begin, datetime.combine(following, time(), self.tz)
            else:
                for lo, hi in self.hours_of(day):
                    yield datetime.combine(day, lo, self.tz), _end(day, hi, self.tz)
            day = following
        raise NotCovered(f"a limit from {start.isoformat()} needs more than {_FAR} days to pass")

    # -- limits -----------------------------------------------------------------------------------
    def seconds(self, span: Span) -> float:
        """A span's length in the time it counts (working seconds for wh and wd)."""
        if span.unit == "wd":
            return span.amount * self.day.total_seconds()
        return span.amount * UNIT_SECONDS[span.unit]

    def deadline(self, start: datetime, span: Span, pauses: Sequence[Pause] = ()) -> datetime | None:
        """When `span` of counted time has passed since `start`, pauses not counting; None while a pause
        with no end stops it first."""
        left = self.seconds(span)
        stops = _merged(pauses, start)
        for lo, hi in self._segments(start, span.working):
            for a, b in _minus(max(lo, start), hi, stops):
                if b is None:  # an open pause reached: the clock stands still
                    return None
                length = (b - a).total_seconds()
                if length >= left:
                    return a + timedelta(seconds=left)
                left -= length
        raise AssertionError("unreachable: _segments ends by raising")

    def counted(self, start: datetime, end: datetime, working: bool, pauses: Sequence[Pause] = ()) -> timedelta:
        """The time that counts between `start` and `end` (working or calendar), pauses not counting."""
        if end <= start:
            return timedelta(0)
        total, stops = timedelta(0), _merged(pauses, start)
        for lo, hi in self._segments(start, working):
            if lo >= end:
                break
            for a, b in _minus(max(lo, start), min(hi, end), stops):
                if b is None:  # an open pause from `a` on: nothing after it counts
                    return total
                total += b - a
        return total

    def between(self, a: datetime, b: datetime, working: bool) -> float:
        """Seconds from `a` to `b` (negative when b is earlier) that count, to tell a person how long is
        left or overdue; calendar seconds where the calendar does not know the days (a limit far ahead)."""
        try:
            counted = self.counted(*sorted((a, b)), working).total_seconds()
        except NotCovered:
            counted = abs((b - a).total_seconds())
        return counted if b >= a else -counted

    def remaining(self, start: datetime, span: Span, now: datetime, pauses: Sequence[Pause] = ()) -> float:
        """Seconds of the span left at `now` (negative: overdue by that much), in the span's own measure."""
        due = self.deadline(start, span, pauses)
        if due is not None and due <= now:
            return -self.counted(due, now, span.working, ()).total_seconds()
        return self.seconds(span) - self.counted(start, now, span.working, pauses).total_seconds()

    def check_cover(self, today: date, days: int, path: Path, holidays_dir: Path) -> None:
        """ConfigError naming the files unless every day from `today` for `days` days is known."""
        missing = sorted({(today + timedelta(n)).year for n in range(days + 1)} - self.years)
        if missing:
            raise TomlChecker(path).fail(
                "(holidays)",
                f"the working calendar knows {_years(self.years)} but the next {days} days reach "
                f"{', '.join(map(str, missing))}",
                f"add the State Council's holiday arrangement for {missing[0]} as {holidays_dir / f'{missing[0]}.toml'} "
                "(REDWALL_HOLIDAYS; see config/holidays/README.md): deadlines are never guessed",
            )


def _end(day: date, hi: time, tz: ZoneInfo) -> datetime:
    """The end of a stretch of hours: 24:00 is written 00:00."""
    if hi == time():
        return datetime.combine(day + timedelta(days=1), time(), tz)
    return datetime.combine(day, hi, tz)


def _merged(pauses: Iterable[Pause], start: datetime) -> list[Pause]:
    """Pauses ending after `start`, sorted and merged (an open one swallows everything after it)."""
    out: list[Pause] = []
    for lo, hi in sorted(pauses, key=lambda p: p[0]):
        if hi is not None and hi <= start:
            continue
        if out and (out[-1][1] is None or lo <= out[-1][1]):
            last_lo, last_hi = out[-1]
            out[-1] = (last_lo, None if hi is None or last_hi is None else max(last_hi, hi))
        else:
            out.append((lo, hi))
    return out


def _minus(lo: datetime, hi: datetime, stops: list[Pause]) -> Iterator[tuple[datetime, datetime | None]]:
    """[lo, hi) without the pauses; a last piece (a, None) means an open pause begins at a."""
    if lo >= hi:
        return
    at = lo
    for p_lo, p_hi in stops:
        if p_hi is not None and p_hi <= at:
            continue
        if p_lo >= hi:
            break
        if p_lo > at:
            yield at, p_lo
        if p_hi is None:
            yield max(at, p_lo), None
            return
        at = max(at, p_hi)
        if at >= hi:
            return
    yield at, hi


def _years(years: frozenset[int]) -> str:
    return f"{min(years)}-{max(years)}" if years else "no year"


# -- loading ----------------------------------------------------------------------------------------


def load_calendar(path: Path, holidays_dir: Path, tz: str, *, today: date | None = None, cover_check=True):
    """Parse and check the calendar, its holiday files and its cover of the next `[cover] days` from
    `today` (the street's date now); raise ConfigError naming the file, the key and the fix."""
    path, holidays_dir = Path(path), Path(holidays_dir)
    data = read_toml(path, "the working calendar")
    c = TomlChecker(path)
    c.known(data, "", {"hours", "cover"})
    hours_table, cover = c.table(data, "hours"), c.table(data, "cover")
    c.known(hours_table, "hours.", set(WEEKDAYS) | {"makeup", "day"})
    c.known(cover, "cover.", {"days"})
    hours = {name: _ranges(c, hours_table, f"hours.{name}") for name in (*WEEKDAYS, "makeup")}
    if not hours["makeup"]:
        raise c.fail("hours.makeup", "has no hours", 'a make-up working day (调休) has hours, e.g. ["09:00-17:00"]')
    day = c.duration(hours_table, "hours.day")
    holidays, workdays, sources = _package_days()
    for file in sorted(holidays_dir.glob("*.toml")) if holidays_dir.is_dir() else ():
        year, off, on = _year_file(file)
        holidays = {d for d in holidays if d.year != year} | off
        workdays = {d for d in workdays if d.year != year} | on
        sources[year] = str(file)
    calendar = WorkingCalendar(
        zone(tz), hours, day, frozenset(holidays), frozenset(workdays), frozenset(sources), sources
    )
    if cover_check:
        days = c.integer(cover, "cover.days", 0, 366)
        calendar.check_cover(today or datetime.now(calendar.tz).date(), days, path, holidays_dir)
    return calendar


def _ranges(c: TomlChecker, table: dict, key: str) -> tuple[tuple[time, time], ...]:
    raw = table.get(key.rsplit(".", 1)[1], [])
    fix = 'write a list of "HH:MM-HH:MM" in the street\'s time zone, e.g. ["09:00-12:00", "13:30-17:30"], or []'
    if not isinstance(raw, list):
        raise c.fail(key, f"{raw!r} is not a list of hours", fix)
    out = []
    for item in raw:
        match = _RANGE.fullmatch(item) if isinstance(item, str) else None
        try:
            lo = time(int(match.group(1)), int(match.group(2)))
            hi_h, hi_m = int(match.group(3)), int(match.group(4))
            hi = time() if (hi_h, hi_m) == (24, 0) else time(hi_h, hi_m)
        except (AttributeError, ValueError):
            raise c.fail(key, f"{item!r} is not HH:MM-HH:MM", fix) from None
        if hi != time() and hi <= lo or out and lo < (out[-1][1] if out[-1][1] != time() else time.max):
            raise c.fail(key, f"{item!r} ends before it starts or overlaps the one before", fix)
        out.append((lo, hi))
    return tuple(out)


def _package_days() -> tuple[set[date], set[date], dict[int, str]]:
    """The days off and make-up working days the chinesecalendar package knows, and its years."""
    holidays, workdays = set(chinese_calendar.holidays), set(chinese_calendar.workdays)
    known = sorted(d.year for d in holidays | workdays)
    label = f"chinesecalendar {getattr(chinese_calendar, '__version__', '')}".strip()
    return holidays, workdays, {year: label for year in range(known[0], known[-1] + 1)}


def _year_file(file: Path) -> tuple[int, set[date], set[date]]:
    """One year's arrangement: `year`, `notice` (where it is published), `holidays` (days off that would
    be working days) and `workdays` (调休: weekend days worked)."""
    c = TomlChecker(file)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the year's holidays: {exc}") from None
    c.known(data, "", {"year", "notice", "holidays", "workdays"})
    year = c.integer(data, ".year", 2000, 2200)
    if file.stem != str(year):
        raise c.fail("year", f"is {year}, but the file is {file.name}", f"name the file {year}.toml")
    if not isinstance(data.get("notice"), str) or not data["notice"].strip():
        raise c.fail("notice", "is missing", "name the notice the days are taken from (国办发明电〔…〕…号)")
    days = {}
    for key in ("holidays", "workdays"):
        raw = data.get(key)
        if not isinstance(raw, list) or not all(isinstance(d, date) and not isinstance(d, datetime) for d in raw):
            raise c.fail(key, f"{raw!r:.80} is not a list of dates", f"write dates bare: {key} = [{year}-10-01]")
        wrong = [d for d in raw if d.year != year]
        if wrong:
            raise c.fail(key, f"{wrong[0]} is not in {year}", "keep one year to a file")
        days[key] = set(raw)
    both = days["holidays"] & days["workdays"]
    if both:
        raise c.fail("workdays", f"{min(both)} is also a holiday", "a day is either off or worked")
    return year, days["holidays"], days["workdays"]
