"""`redwall calendar deadline|days`: the working calendar of config/calendar.toml as dispatchers and whoever
checks the config see it. `deadline` prints when a limit falls (ISO 8601 with the street's offset);
`days` lists days as the calendar counts them (工作日, 休息日, 节假日, 调休上班) with their working hours.
Files only: no broker, no database."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta

from config.calendar import NotCovered, WorkingCalendar, load_calendar
from config.spans import parse_span

_WEEKDAY_ZH = "一二三四五六日"


def add_commands(sub) -> None:
    calendar = sub.add_parser("calendar", help="the working calendar: when a limit falls, which days are worked")
    actions = calendar.add_subparsers(required=True, metavar="ACTION")
    deadline = actions.add_parser(
        "deadline", help="when DURATION from TIME falls, pauses not counting (4h, 7d calendar; 4wh, 7wd working)"
    )
    deadline.add_argument("--from", dest="start", required=True, help="ISO 8601; without an offset, street time")
    deadline.add_argument("--duration", required=True, help='a limit as the rules write it: "4h", "7d", "4wh", "7wd"')
    deadline.add_argument(
        "--pause", action="append", default=[], metavar="FROM/TO", help="a pause (挂起), ISO 8601 both; repeatable"
    )
    deadline.set_defaults(run=_deadline)
    days = actions.add_parser("days", help="days as the calendar counts them, with their working hours")
    days.add_argument("--from", dest="start", help="YYYY-MM-DD (default: today, street time)")
    days.add_argument("--days", type=int, default=14, help="how many (default 14)")
    days.set_defaults(run=_days)


def _calendar(settings) -> WorkingCalendar:
    # No cover check: a command that looks at the calendar must work when the cover is what is missing.
    return load_calendar(settings.calendar_path, settings.holidays_path, settings.timezone, cover_check=False)


def _deadline(settings, args) -> int:
    calendar = _calendar(settings)
    try:
        start = _instant(args.start, calendar, "--from")
        span = parse_span(args.duration)
        pauses = [_pause(text, calendar) for text in args.pause]
        due = calendar.deadline(start, span, pauses)
    except (ValueError, NotCovered) as error:
        print(f"redwall: calendar deadline: {error}", file=sys.stderr)
        return 2
    print(due.astimezone(calendar.tz).isoformat())
    return 0


def _instant(text: str, calendar: WorkingCalendar, option: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} {text!r} is not ISO 8601 (e.g. 2026-09-30T15:00+08:00)") from None
    return when if when.tzinfo else when.replace(tzinfo=calendar.tz)


def _pause(text: str, calendar: WorkingCalendar) -> tuple[datetime, datetime]:
    lo, sep, hi = text.partition("/")
    if not sep:
        raise ValueError(f"--pause {text!r} is not FROM/TO")
    start, end = _instant(lo, calendar, "--pause FROM"), _instant(hi, calendar, "--pause TO")
    if end < start:
        raise ValueError(f"--pause {text!r} ends before it starts")
    return start, end


def _days(settings, args) -> int:
    calendar = _calendar(settings)
    try:
        first = date.fromisoformat(args.start) if args.start else datetime.now(calendar.tz).date()
    except ValueError:
        print(f"redwall: calendar days: --from {args.start!r} is not YYYY-MM-DD", file=sys.stderr)
        return 2
    for n in range(max(0, args.days)):
        day = first + timedelta(days=n)
        print(f"{day}  周{_WEEKDAY_ZH[day.weekday()]}  {_day_line(calendar, day)}")
    return 0


def _day_line(calendar: WorkingCalendar, day: date) -> str:
    """How the calendar counts `day`: its kind in Chinese and its working hours, or where to add it."""
    if not calendar.covers(day):
        return f"未知（{day.year} 年的节假日安排未加入，见 REDWALL_HOLIDAYS）"
    hours = calendar.hours_of(day)
    if day in calendar.workdays:
        kind = "调休上班"
    elif day in calendar.holidays:
        kind = "节假日"
    else:
        kind = "工作日" if hours else "休息日"
    spans = " ".join(f"{lo:%H:%M}-{hi:%H:%M}".replace("-00:00", "-24:00") for lo, hi in hours)
    return f"{kind}  {spans}".rstrip()
