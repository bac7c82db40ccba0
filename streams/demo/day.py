"""The demo's working day: a street's 12-hour day compressed 24 times, into 30 minutes.

Compressed: the report rate (a street files ~2,000 reports a month, ~67 a day: 2.2 a minute here), every
deadline and the clustering window (the demo's copy of the escalation rules, durations divided by 24), the
hot-spot windows, the limits of tasks to a person (the demo's copy of config/tasks.toml), and the 12345 feed: ~300 orders a month (~10 in the demo's day) and their time limits
(the demo's copy of config/hotline.toml). A working-time limit (`4wh`, `1wd` = 8 h) counts as calendar time
there: the demo's day is all working time, whenever it runs. Not compressed: walking, GPS fixes and the patrol thresholds, which are about minutes
of a person's time, and the duty shifts: the demo's copy of the roster moves every shift so that the day
shift begins at the hour the demo starts, and holds only the simulated phones, so they are all on duty.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import datetime, time, timedelta
from pathlib import Path

from config.files import read_toml
from config.hotline import load_hotline
from config.roster import load_roster
from config.rules import load_rules
from config.settings import Settings
from config.spans import UNIT_SECONDS
from config.tasks import load_task_rules
from schemas import json
from schemas.display import zone

COMPRESSION = 24
DAY_HOURS = 12
REPORTS_PER_MONTH = 2000
REPORTS_PER_MINUTE = REPORTS_PER_MONTH / 30 / (DAY_HOURS * 60 / COMPRESSION)  # ~2.2
HOTLINE_ORDERS_PER_MONTH = 300  # 12345 work orders dispatched to a street
HOTLINE_ORDERS_PER_MINUTE = HOTLINE_ORDERS_PER_MONTH / 30 / (DAY_HOURS * 60 / COMPRESSION)  # ~0.33
_HOTLINE_KEYS = "contact|emergency|utilities|ordinary|complex"
_RULES_KEYS = "acknowledge|resolve|window|approve_after"
_TASK_KEYS = "arrive|done"  # not the arrival's dwell and gap: those are about walking and GPS
# The demo's day is all working time, whenever it runs: a working limit becomes calendar time (1wd = 8 h).
_SECONDS = {**UNIT_SECONDS, "wd": 8 * 3600}


def _shorter(text: str, keys: str) -> str:
    """`text` with the limits of the keys named divided by COMPRESSION, as calendar seconds."""

    def shorter(match: re.Match) -> str:
        seconds = float(match.group(2)) * _SECONDS[match.group(3)] / COMPRESSION
        return f'{match.group(1)}"{max(seconds, 1):g}s"'

    return re.sub(rf'^(\s*(?:{keys})\s*=\s*)"(\d+(?:\.\d+)?)(wh|wd|[smhd])"', shorter, text, flags=re.M)


def compressed_settings(settings: Settings) -> Settings:
    """The hot-spot windows (前响应) on the demo's clock."""
    return dataclasses.replace(
        settings,
        advisory_window_seconds=settings.advisory_window_seconds / COMPRESSION,
        advisory_repeat_seconds=settings.advisory_repeat_seconds / COMPRESSION,
    )


def compressed_rules(source: Path, target: Path) -> Path:
    """A copy of the escalation rules with every deadline, the pause's approval limit and the clustering window
    divided by COMPRESSION (alert age and retention stay: they are about replays, not the working day),
    checked as the worker will."""
    text = _shorter(source.read_text(encoding="utf-8"), _RULES_KEYS)
    # The zones file is named relative to the rules file, which now lives elsewhere.
    text = re.sub(
        r'^(\s*file\s*=\s*)"([^"]+)".*$',
        lambda m: f"{m.group(1)}{_string(str(source.parent / m.group(2)))}  # made absolute by the demo",
        text,
        flags=re.M,
    )
    target.write_text(
        f"# The demo's copy of {source}: deadlines and clustering window / {COMPRESSION}.\n" + text, encoding="utf-8"
    )
    load_rules(target)
    return target


def compressed_hotline(source: Path, target: Path) -> Path:
    """A copy of the 12345 settings with the contact limit and every resolve limit divided by COMPRESSION
    (前响应's days and retention stay), checked as the worker will."""
    text = _shorter(source.read_text(encoding="utf-8"), _HOTLINE_KEYS)
    # The address table is named relative to the file, which now lives elsewhere.
    text = re.sub(
        r'^(\s*addresses\s*=\s*)"([^"]+)".*$',
        lambda m: f"{m.group(1)}{_string(str(source.resolve().parent / m.group(2)))}  # made absolute by the demo",
        text,
        flags=re.M,
    )
    target.write_text(f"# The demo's copy of {source}: its time limits / {COMPRESSION}.\n" + text, encoding="utf-8")
    load_hotline(target)
    return target


def compressed_tasks(source: Path, target: Path) -> Path:
    """A copy of the task rules with each kind's limits divided by COMPRESSION, checked as the worker will."""
    text = _shorter(source.read_text(encoding="utf-8"), _TASK_KEYS)
    target.write_text(f"# The demo's copy of {source}: its time limits / {COMPRESSION}.\n" + text, encoding="utf-8")
    load_task_rules(target)
    return target


def major_events_for(source: Path, target: Path, grids: set[str]) -> Path:
    """A copy of the major-event periods without the per-grid minimums of grids the map does not hold (the
    sample's name the street sample's grids; a district's grids are named otherwise)."""
    kept = [
        line
        for line in source.read_text(encoding="utf-8").splitlines(keepends=True)
        if not (m := _GRID_MINIMUM.match(line)) or m.group(1) in grids
    ]
    target.write_text(f"# The demo's copy of {source}, for its map's grids.\n" + "".join(kept), encoding="utf-8")
    return target


def roster_on_duty(source: Path, target: Path, phones: dict[str, str], now: datetime) -> Path:
    """A copy of the roster with only the simulated `phones` ({device: grid}) and every shift moved so that
    the day shift (the one most of them work) begins at the current hour. A phone the roster lacks joins as a
    grid worker on that shift; a team whose partner is not simulated is dropped (a team is a pair)."""
    data = read_toml(source, "the roster")
    listed = {w["device"]: w for w in data.get("worker", [])}
    shifts = {s["id"]: s for s in data.get("shift", [])}
    day = Counter(s for d in phones if d in listed for s in listed[d]["shifts"]).most_common(1)
    day = day[0][0] if day else next(iter(shifts), None)
    if day is None:
        shifts = {"day": {"id": "day", "name": "白班 / day", "start": "08:00", "end": "20:00"}}
        day = "day"
    joins = {"role": "grid_worker", "shifts": [day]}
    # A listed phone keeps its name, role and shifts, and walks the grid the demo gives it.
    workers = [{**(listed.get(d) or {"device": d, "name": d, **joins}), "grid": grid} for d, grid in phones.items()]
    teams = Counter(w.get("team") for w in workers)
    workers = [{k: v for k, v in w.items() if k != "team" or teams[v] == 2} for w in workers]
    local = now.astimezone(zone(data.get("timezone", "Asia/Shanghai")))
    offset = local.hour * 60 - _minutes(shifts[day]["start"])
    moved = [{**s, "start": _moved(s["start"], offset), "end": _moved(s["end"], offset)} for s in shifts.values()]
    note = (
        f"# The demo's copy of {source}: its {len(workers)} simulated phones, every shift moved "
        f"{offset % 1440} minutes so that shift {day!r} begins at {local:%H}:00 local time.\n"
    )
    target.write_text(note + _toml(data.get("timezone", "Asia/Shanghai"), moved, workers), encoding="utf-8")
    load_roster(target)
    return target


_GRID_MINIMUM = re.compile(r'\s*"([^"]+)"\s*=\s*\d+')  # a line of [period.min_on_post_by_grid]


def _minutes(clock: str) -> int:
    t = time.fromisoformat(clock)
    return t.hour * 60 + t.minute


def _moved(clock: str, minutes: int) -> str:
    start = datetime.combine(datetime(2000, 1, 1), time.fromisoformat(clock))
    return f"{start + timedelta(minutes=minutes):%H:%M}"


def _toml(timezone: str, shifts: list[dict], workers: list[dict]) -> str:
    """The roster as TOML: flat tables of strings and lists of strings are all it has."""
    blocks = [f"timezone = {_string(timezone)}"]
    for name, tables in (("shift", shifts), ("worker", workers)):
        for table in tables:
            lines = [f"{key} = {_value(value)}" for key, value in table.items()]
            blocks.append(f"[[{name}]]\n" + "\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _value(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_string(v) for v in value) + "]"
    return _string(value)


def _string(text: str) -> str:
    return json.dumps(str(text)).decode()  # a JSON string is a TOML basic string (same escapes)
