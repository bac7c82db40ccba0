"""`GET /api/calendar`: the street's working hours as the page counts working time with them (剩余 3工时20分):
the working intervals from 30 days back to 60 days ahead (what the calendar must cover, or the console
refuses to start) in UTC milliseconds, and the length of a working day. Made once a day, from the same
WorkingCalendar (config/calendar.py) the engine counts deadlines with; static/worktime.js counts on them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from aiohttp import web

from config.calendar import WorkingCalendar
from consumers.console.reads import fresh_json

BACK, AHEAD = 30, 60  # days


def working_intervals(cal: WorkingCalendar, first: date, days: int) -> list[list[int]]:
    """[from, to) of every stretch of working hours of the days from `first` on, in UTC ms, in order."""
    out = []
    for n in range(days):
        day = first + timedelta(days=n)
        if not cal.covers(day):  # a console left running into a year not yet added: it serves what it knows
            break
        for lo, hi in cal.hours_of(day):
            end = datetime.combine(day + timedelta(days=1) if hi == time() else day, hi, cal.tz)
            out.append([_ms(datetime.combine(day, lo, cal.tz)), _ms(end)])
    return out


def _ms(when: datetime) -> int:
    return round(when.timestamp() * 1000)


class CalendarView:
    """The intervals around today in the street's zone, made again when the street's date changes."""

    def __init__(self, cal: WorkingCalendar, now=lambda: datetime.now().astimezone()):
        self.cal, self.now, self.day, self.made = cal, now, None, {}

    def body(self) -> dict:
        today = self.now().astimezone(self.cal.tz).date()
        if self.day != today:
            first = today - timedelta(days=BACK)
            self.day, self.made = (
                today,
                {
                    "day": self.cal.day.total_seconds(),
                    "from": _ms(datetime.combine(first, time(), self.cal.tz)),
                    "to": _ms(datetime.combine(today + timedelta(days=AHEAD + 1), time(), self.cal.tz)),
                    "intervals": working_intervals(self.cal, first, BACK + AHEAD + 1),
                },
            )
        return self.made

    async def view(self, request: web.Request) -> web.Response:
        return fresh_json(self.body())
