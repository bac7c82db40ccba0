"""`redwall patrol who-was-here`: every device seen inside a courtyard, a grid or a drawn polygon (a GeoJSON
file) between two times, with entry, exit and time inside (sinks/presence.py). Times are read and shown in
REDWALL_TIMEZONE to the minute, Chinese first; `--json` prints one JSON object per device for a script.
`redwall patrol day`: the daily patrol summary of each rostered worker (sinks/patrol_day.py) for one day in
REDWALL_TIMEZONE, as a table in Chinese or (`--json`) one JSON object per worker.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from config.geometry import load_geometry
from config.roster import ROLES
from schemas import json
from schemas.display import local_minute, span_zh, zone
from schemas.fields import FieldError
from sinks.patrol_day import WorkerDay, patrol_day
from sinks.presence import Fence, check_window, drawn, named, parse_time, who_was_here
from streams.cli.credentials import padded

_KIND_ZH = {"courtyard": "院落", "grid": "网格", "polygon": "圈选区域"}
_WIDTHS = (16, 10, 10, 17, 17, 10, 4)
_DAY_HEADS = ("姓名", "角色", "在班", "在岗", "步行距离", "网格", "院落", "上报", "任务完成", "到场用时中位数")
_DAY_WIDTHS = (10, 8, 11, 11, 9, 4, 4, 4, 18, 14)


def add_commands(sub) -> None:
    patrol = sub.add_parser("patrol", help="patrol proof from the position history: who was where, and when")
    actions = patrol.add_subparsers(required=True, metavar="ACTION")
    who = actions.add_parser(
        "who-was-here", help="devices inside a courtyard, grid or drawn polygon between two times (谁到过)"
    )
    place = who.add_mutually_exclusive_group(required=True)
    place.add_argument("--courtyard", help="a courtyard's id, e.g. c01-g03-y07")
    place.add_argument("--grid", help="a grid's id, e.g. c01-g03")
    place.add_argument("--polygon", type=Path, help="a GeoJSON file: a Polygon, or a Feature holding one (WGS 84)")
    who.add_argument("--from", dest="start", required=True, help="e.g. '2026-12-06 08:00' in REDWALL_TIMEZONE")
    who.add_argument("--to", dest="end", required=True, help="at most 31 days after --from")
    who.add_argument("--json", action="store_true", help="one JSON object per device")
    who.set_defaults(run=_who_was_here, needs=("postgres",))
    day = actions.add_parser(
        "day", help="each rostered worker's day: on duty, on post, walked, visited, reports, tasks"
    )
    day.add_argument("--date", help="YYYY-MM-DD, a day in REDWALL_TIMEZONE (default: today there)")
    day.add_argument("--device", help="one worker's device only")
    day.add_argument("--json", action="store_true", help="one JSON object per worker")
    day.set_defaults(run=_day, needs=("postgres",))


def _fence(args, settings) -> Fence:
    if args.polygon:
        try:
            raw = json.loads(args.polygon.read_bytes())
        except (OSError, ValueError) as error:
            raise FieldError("polygon", f"{args.polygon}: cannot be read as JSON: {error}") from None
        return drawn(raw)
    return named(load_geometry(settings.geometry_path, check_areas=False), args.courtyard, args.grid)


def _who_was_here(settings, args) -> int:
    tz = settings.timezone
    try:
        fence = _fence(args, settings)
        start, end = parse_time(args.start, "--from", tz), parse_time(args.end, "--to", tz)
        check_window(start, end)
    except FieldError as error:
        print(f"redwall: patrol who-was-here: {error}", file=sys.stderr)
        return 2
    found = asyncio.run(
        who_was_here(
            settings.database_dsn,
            fence,
            start,
            end,
            silence=timedelta(seconds=settings.presence_silence_seconds),
            max_accuracy_m=settings.gps_max_accuracy_m,
        )
    )
    if args.json:
        for row in found:
            print(json.dumps(row).decode())
        return 0
    where = (
        f"{_KIND_ZH[fence.kind]} {fence.name or ''}（{fence.id}）"
        if fence.id
        else f"{_KIND_ZH[fence.kind]} {args.polygon}"
    )
    print(
        f"谁到过 · {where} · {local_minute(start, tz)} .. {local_minute(end, tz)} ({tz}) · "
        f"间断超过 {span_zh(settings.presence_silence_seconds)} 即为离开 · {len(found)} 台设备"
    )
    heads = ("设备", "姓名", "角色", "进入", "离开", "停留", "次数")
    print(_line(heads))
    for row in found:
        role = ROLES.get(row["role"], row["role"] or "-")  # the roster's Chinese name of the role
        print(_line((row["device"], row["name"] or "-", role, *_times(row, tz), len(row["visits"]))))
        if len(row["visits"]) > 1:
            for visit in row["visits"]:
                print(_line(("", "", "", *_times(visit, tz), "")))
    return 0


def _times(item: dict, tz: str) -> tuple[str, str, str]:
    return local_minute(item["entry"], tz), local_minute(item["exit"], tz), span_zh(item["seconds"])


def _line(cells) -> str:
    return "  ".join(padded(str(c), w) for c, w in zip(cells, _WIDTHS, strict=True)).rstrip()


def _day(settings, args) -> int:
    tz = settings.timezone
    try:
        wanted = date.fromisoformat(args.date) if args.date else datetime.now(UTC).astimezone(zone(tz)).date()
    except ValueError:
        print(f"redwall: patrol day: --date: {args.date!r:.40} is not a day: write YYYY-MM-DD", file=sys.stderr)
        return 2
    devices = [args.device] if args.device else None
    found = asyncio.run(
        patrol_day(settings.database_dsn, wanted, tz, devices=devices, max_accuracy_m=settings.gps_max_accuracy_m)
    )
    if args.device and not found:
        print(f"redwall: patrol day: --device: {args.device!r:.80} is not on the roster", file=sys.stderr)
        return 2
    if args.json:
        for worker in found:
            print(json.dumps(worker.as_dict()).decode())
        return 0
    print(f"每日巡查小结 · {wanted.isoformat()} ({tz}) · {len(found)} 人")
    print(_day_line(_DAY_HEADS))
    for worker in found:
        print(_day_line(_day_cells(worker)))
    return 0


def _day_cells(w: WorkerDay) -> tuple:
    done = f"{w.tasks_done}（{w.tasks_unconfirmed}未确认到场）" if w.tasks_unconfirmed else w.tasks_done
    arrive = span_zh(w.arrive_median_s) if w.arrive_median_s is not None else "-"
    role = ROLES.get(w.role, w.role)
    on = (span_zh(w.on_duty_s), span_zh(w.on_post_s))
    return (w.name, role, *on, f"{w.distance_m / 1000:.1f}km", len(w.grids), len(w.courtyards), w.reports, done, arrive)


def _day_line(cells) -> str:
    return "  ".join(padded(str(c), w) for c, w in zip(cells, _DAY_WIDTHS, strict=True)).rstrip()
