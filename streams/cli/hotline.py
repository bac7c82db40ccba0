"""`redwall hotline rates|topics|orders`: the 12345 figures of sinks/hotline_rates.py as of now, read
from PostgreSQL, and the orders with their clocks. A table in Chinese first (percentages to one decimal, n and call-backs beside every rate,
样本不足 where n is below [rates] min_n and so not ranked, the composite as a score out of 100), or
`--json` for a script.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from datetime import UTC, datetime

from config.calendar import WorkingCalendar, load_calendar
from config.hotline import load_hotline
from schemas import json
from schemas.display import CATEGORY, CLOCK, ORDER_EVENT, RATE, URGENCY, local_minute, span_zh, work_span_zh
from sinks.hotline_rates import BY, ORDER_STATUSES, PERIODS, month_bounds, orders_page, rates, topic_candidates
from streams.cli.credentials import padded

NEEDS = ("postgres",)
_BY_ZH = {"street": "街道", "community": "社区", "grid": "网格", "category": "类别"}
_RATES = ("response", "resolution", "satisfaction", "on_time", "composite")


def add_commands(sub) -> None:
    hotline = sub.add_parser("hotline", help="12345 work orders: the rates a street is ranked by, 每月一题")
    actions = hotline.add_subparsers(required=True, metavar="ACTION")
    figures = actions.add_parser(
        "rates", help="响应率, 解决率, 满意率, 按时办结率, the composite and 前响应, with n (config/hotline.toml)"
    )
    figures.add_argument("--month", help="YYYY-MM (default: this month, to date; a past month is whole)")
    figures.add_argument("--by", choices=BY, default="community")
    figures.add_argument("--period", choices=PERIODS, default="month", help="the month, or the rolling 30 days")
    figures.add_argument("--json", action="store_true", help="one JSON object per line")
    figures.set_defaults(run=_rates, needs=NEEDS)
    topics = actions.add_parser("topics", help="每月一题 candidates: grid and category recurring beyond their usual")
    topics.add_argument("--month", help="YYYY-MM (default: this month, to date)")
    topics.add_argument("--json", action="store_true", help="one JSON object per line")
    topics.set_defaults(run=_topics, needs=NEEDS)
    orders = actions.add_parser("orders", help="orders with their clocks: open ones nearest their limit first")
    orders.add_argument("--status", choices=ORDER_STATUSES, default="open")
    orders.add_argument("--community", help="only this community's, e.g. c03 (unlocated: the street's queue)")
    orders.add_argument("--limit", type=int, default=50)
    orders.add_argument("--json", action="store_true", help="one JSON object per line")
    orders.set_defaults(run=_orders, needs=NEEDS)


def _checked_month(month: str | None, tz: str) -> int | None:
    try:
        month_bounds(month, datetime.now(UTC), tz)
    except ValueError as error:
        print(f"redwall: hotline: {error}", file=sys.stderr)
        return 2
    return None


def _rates(settings, args) -> int:
    now, tz = datetime.now(UTC), settings.timezone
    refused = _checked_month(args.month, tz)
    if refused:
        return refused
    config = load_hotline(settings.hotline_path)
    found = asyncio.run(
        rates(settings.database_dsn, config, now, by=args.by, period=args.period, month=args.month, tz=tz)
    )
    if args.json:
        for rate in found:
            print(json.dumps(dataclasses.asdict(rate)).decode())
        return 0
    span = f"{args.month or f'{month_bounds(None, now, tz)[0]:%Y-%m}'} 月" if args.period == "month" else "近30天"
    print(f"12345 考核指标 · {span} · 按{_BY_ZH[args.by]} · 截至 {local_minute(now, tz)} ({tz})")
    heads = ["编号", "名称", "工单", "回访", *(RATE[r] for r in _RATES), "前响应", "盲区", "排名"]
    print("  ".join(padded(h, w) for h, w in zip(heads, _WIDTHS, strict=True)).rstrip())
    for rate in found:
        print(_rate_line(rate))
    return 0


_WIDTHS = (14, 20, 5, 5, 7, 7, 7, 10, 8, 7, 5, 8)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _rate_line(rate) -> str:
    cells = [rate.key, rate.name, str(rate.n), str(rate.callbacks)]
    cells += [_percent(getattr(rate, r)) for r in _RATES[:-1]]
    cells.append("-" if rate.composite is None else f"{rate.composite * 100:.1f}")  # a score out of 100
    cells += [_percent(rate.grid_first), str(rate.blind_spots), "参与" if rate.ranked else "样本不足"]
    return "  ".join(padded(c, w) for c, w in zip(cells, _WIDTHS, strict=True)).rstrip()


def _topics(settings, args) -> int:
    now, tz = datetime.now(UTC), settings.timezone
    refused = _checked_month(args.month, tz)
    if refused:
        return refused
    config = load_hotline(settings.hotline_path)
    found = asyncio.run(topic_candidates(settings.database_dsn, config, now, month=args.month, tz=tz))
    if args.json:
        for topic in found:
            print(json.dumps(topic).decode())
        return 0
    month = args.month or f"{month_bounds(None, now, tz)[0]:%Y-%m}"
    print(f"每月一题候选 · {month} 月 · 近{config.topic_months}个月均值为常态 · 截至 {local_minute(now, tz)} ({tz})")
    if not found:
        print("（无）")
    for t in found:
        print(
            f"{padded(t['grid'], 12)}  {padded(CATEGORY[t['category']], 12)}  本月 {t['count']} 件  "
            f"常态 {t['usual']:.1f} 件/月  z={t['z']:.2f}  {' '.join(t['orders'])}"
        )
    return 0


def _orders(settings, args) -> int:
    now, tz = datetime.now(UTC), settings.timezone
    calendar = load_calendar(settings.calendar_path, settings.holidays_path, tz, cover_check=False)
    found = asyncio.run(
        orders_page(
            settings.database_dsn, now, calendar, status=args.status, community=args.community, limit=args.limit
        )
    )
    for order in found:
        if args.json:
            print(json.dumps(order).decode())
            continue
        clocks = "  ".join(f"{CLOCK[name]} {_clock_zh(c, tz, calendar)}" for name, c in order["clocks"].items())
        step = ORDER_EVENT.get(order["status"], "")
        print(
            f"{padded(order['id'], 20)}  {padded(order['community_id'], 10)}  {padded(CATEGORY[order['category']], 12)}"
            f"  {padded(URGENCY[order['urgency']], 8)}  {clocks}  {step}".rstrip()
        )
    return 0


def _clock_zh(clock: dict, tz: str, calendar: WorkingCalendar) -> str:
    due = local_minute(clock["due"], tz)

    def said(seconds: float) -> str:  # working time for a working-time limit
        return work_span_zh(seconds, calendar.day.total_seconds()) if clock["working"] else span_zh(seconds)

    if clock["overdue_seconds"] is not None:
        return f"{due}（已超时{said(clock['overdue_seconds'])}）"
    if clock["remaining_seconds"] is not None:
        return f"{due}（剩余{said(clock['remaining_seconds'])}）"
    return f"{due}（超时完成）" if clock["late"] else f"{due}（按时完成）"
