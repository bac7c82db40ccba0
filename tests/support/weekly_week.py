"""A week planted row by row for the tests of the weekly figures: what is planted here is what each figure
must count (tests/consumers/report/test_figures.py). Places are the sample street's (config/sample)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

import h3

from config.geometry import load_geometry
from config.settings import Settings
from schemas import json
from sinks.postgres import seed_places
from tests.support.hotline_rows import insert_orders, order

H = timedelta(hours=1)
PLANTED = {"parking_grid": "c02-g01"}


@cache
def sample_geometry():
    return load_geometry(Settings.from_env().geometry_path, check_areas=False)


def _middle(grid: str) -> tuple[float, float]:
    ring = sample_geometry().grids[grid].polygons[0][0]
    return sum(p[1] for p in ring) / len(ring), sum(p[0] for p in ring) / len(ring)


async def plant_week(conn, start: datetime, end: datetime) -> dict[str, str]:
    """Plant the week [start, end) and the 8 before it; returns the cells used (A, B, C and their
    parents at resolution 10: A10 ...)."""
    await seed_places(conn, sample_geometry())
    points = {"A": _middle("c01-g01"), "B": _middle("c01-g02"), "C": _middle(PLANTED["parking_grid"])}
    cells = {name: h3.latlng_to_cell(*p, 12) for name, p in points.items()}
    cells |= {f"{name}10": h3.cell_to_parent(cell, 10) for name, cell in list(cells.items())}
    assert len({cells["A10"], cells["B10"], cells["C10"]}) == 3
    await _reports(conn, start, end, points, cells)
    await _incidents(conn, start, end)
    await _patrol(conn, start)
    await _advisories(conn, start, cells)
    await _orders(conn, start)
    return cells


async def _reports(conn, start, end, points, cells) -> None:
    place = {"A": ("c01", "c01-g01"), "B": ("c01", "c01-g02"), "C": ("c02", PLANTED["parking_grid"])}
    rows = []

    def report(at: datetime, where: str, category: str, street: str = "xichangan") -> None:
        lat, lng = points[where]
        rows.append((f"r{len(rows)}", category, lat, lng, at, street, *place[where], cells[where]))

    week = (
        [start]  # the first instant is the week's
        + [start + 4 * H] * 3  # make A hot before its advisory at +5 h
        + [start + 6 * H]  # and follow it
        + [start + (20 + i) * H for i in range(7)]
    )
    for at in week:
        report(at, "A", "sanitation")
    for at in [start + 99 * H] + [start + (110 + i) * H for i in range(7)]:  # B's advisory at +100 h: no follow
        report(at, "B", "sanitation")
    for i in range(3):
        report(start + (30 + i) * H, "A", "dispute")
    report(start + 40 * H, "C", "illegal_parking")
    report(end, "A", "sanitation")  # the next week's
    report(start + 50 * H, "A", "sanitation", street="elsewhere")
    for week_before in range(1, 9):
        monday = start - timedelta(weeks=week_before)
        for i in range(5):
            report(monday + (10 + i) * H, "A", "sanitation")
        for i in range(9):
            report(monday + (10 + i) * H, "C", "illegal_parking")
    report(start - 3 * 24 * H, "A", "dispute")  # last week's one dispute
    await conn.executemany(
        "INSERT INTO reports (id, device_id, category, severity, text, lat, lng, event_time, street_id, "
        "community_id, grid_id, cell) VALUES ($1, 'dev-1', $2, 'medium', '测试', $3, $4, $5, $6, $7, $8, $9)",
        rows,
    )


# Incidents: (id, community, grid, category, status, level, opened (hours after start), ack_by, resolve_by
# (hours after start), reports, events [(kind, seconds after opened, actor, reason, code, to_level, ceiling)]).
_INCIDENTS = [
    ("i1", "c01", "c01-g01", "sanitation", "resolved", "grid", 2, 3, 50, 1, [
        ("opened", 0, "dev-1", "按规则由网格处置", "report", "grid", False),
        ("acknowledged", 600, "w-1", "收到", "ack", "grid", False),
        ("resolved", 3600, "w-1", "已清理", "resolve", "grid", False)]),
    ("i2", "c01", None, "dispute", "acknowledged", "community", 30, 31, 40, 1, [
        ("opened", 0, "dev-2", "按规则由社区处置", "report", "community", False),
        ("acknowledged", 1200, "c-1", "收到", "ack", "community", False)]),
    ("i3", "c01", "c01-g01", "sanitation", "acknowledged", "street", 20, 500, 500, 5, [
        ("opened", 0, "dev-3", "按规则由社区处置", "report", "community", False),
        *[("report_merged", 60 * k, f"dev-3{k}", f"第 {k + 1} 条并入", "cluster", "community", False)
          for k in range(1, 5)],
        ("escalated", 300, "system", "聚集：附近环境卫生上报达 5 条", "cluster", "street", False),
        ("acknowledged", 2100, "s-1", "街道收到", "ack", "street", False),
        ("resolved", 7 * 24 * 3600, "s-1", "下周办结", "resolve", "street", False)]),  # after the week
    ("i4", "c02", "c02-g01", "safety_hazard", "assigned", "street", 10, 500, 500, 1, [
        ("opened", 0, "dev-4", "按规则由网格处置", "report", "grid", False),
        ("escalated", 3600, "system", "签收时限已过，升至社区", "deadline_acknowledge", "community", False),
        ("escalated", 7200, "system", "签收时限已过，升至街道", "deadline_acknowledge", "street", False),
        ("deadline_missed", 10800, "system", "签收时限已过，超时督办", "deadline_acknowledge", "street", False)]),
    ("i5", "c02", "c02-g01", "illegal_construction", "assigned", "district", 50, 500, 500, 2, [
        ("opened", 0, "dev-5", "位于敏感区域，直接由街道处置", "sensitive_zone", "street", False),
        ("report_merged", 60, "dev-6", "第 2 条并入", "cluster", "street", False),
        ("escalated", 120, "staff-street", "需区级执法支援", "request", "district", True)]),
    ("i7", "c03", None, "other", "assigned", "street", 60, 500, 500, 1, [
        ("opened", 0, "dev-7", "按规则由社区处置", "report", "community", False),
        ("escalated", 60, "staff-7", "请街道协调", "request", "street", False)]),
    ("i6", "c03", None, "other", "assigned", "district", -30, 500, 500, 1, [  # opened the week before
        ("opened", 0, "dev-8", "按规则由街道处置", "report", "street", False),
        ("escalated", 40 * 3600, "staff-street", "越级", "request", "district", True)]),
]  # fmt: skip


async def _incidents(conn, start, end) -> None:
    for ident, community, grid, category, status, level, opened, ack, resolve, count, events in _INCIDENTS:
        inc = f"inc-{community}-{ident}"
        t0 = start + opened * H
        await conn.execute(
            "INSERT INTO incidents (id, street_id, community_id, grid_id, category, severity, priority, status, "
            "level, owner, opened_at, ack_by, resolve_by, report_count, last_report_at, last_seq, updated_at) "
            "VALUES ($1, 'xichangan', $2, $3, $4, 'medium', 'normal', $5, $6, 'o', $7, $8, $9, $10, $7, $11, $7)",
            inc,
            community,
            grid,
            category,
            status,
            level,
            t0,
            start + ack * H,
            start + resolve * H,
            count,
            len(events),
        )
        await conn.executemany(
            "INSERT INTO incident_events (id, incident_id, seq, kind, event_time, actor, reason, reason_code, "
            "to_level, community_id, category, ceiling, payload) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, '{}')",
            [
                (
                    f"{inc}:{seq:05d}",
                    inc,
                    seq,
                    kind,
                    t0 + timedelta(seconds=after),
                    actor,
                    reason,
                    code,
                    to,
                    community,
                    category,
                    ceiling,
                )
                for seq, (kind, after, actor, reason, code, to, ceiling) in enumerate(events, 1)
            ],
        )


async def _patrol(conn, start) -> None:
    """d1: on post from before the week, offline 30 min at +24 h, off duty at +48 h; d2 (c01-g01 too):
    a shift from +12 h (unknown and on post at the same instant), off post +20..22 h, then off duty."""
    changes = [
        ("d1", -1, "on_post"), ("d1", 24, "offline"), ("d1", 24.5, "on_post"), ("d1", 48, "off_duty"),
        ("d2", 12, "unknown"), ("d2", 12, "on_post"), ("d2", 20, "off_post"), ("d2", 22, "off_duty"),
    ]  # fmt: skip
    await conn.executemany(
        "INSERT INTO patrol_events (id, device_id, grid_id, status, previous, reason, event_time) "
        "VALUES ($1 || ':' || $3 || ':' || $4::text, $1, 'c01-g01', $3, 'x', 'test', $2)",
        [(device, start + hours * H, status, str(hours)) for device, hours, status in changes],
    )
    await conn.executemany(
        "INSERT INTO patrol_status (device_id, grid_id, status, since, reason) VALUES ($1, 'c01-g01', 'off_duty', $2, 't')",
        [("d1", start + 48 * H), ("d2", start + 22 * H)],
    )
    # Gaps: P1 asks 5 everywhere (c01-g01: 1, short while d1 is offline); P2 asks 1 of c01-g01 when no one
    # is on duty; P3 is covered; P4 ended before the week.
    periods = [
        ("p1", 23, 25, 5, {"c01-g01": 1}),
        ("p2", 50, 52, 0, {"c01-g01": 1}),
        ("p3", 13, 14, 0, {"c01-g01": 2}),
        ("p4", -72, -48, 9, {}),
    ]
    await conn.executemany(
        "INSERT INTO major_event_periods (id, name, starts, ends, deadline_factor, min_on_post, min_on_post_by_grid) "
        "VALUES ($1, $1, $2, $3, 1.0, $4, $5)",
        [(p, start + a * H, start + b * H, need, json.dumps(by).decode()) for p, a, b, need, by in periods],
    )


async def _advisories(conn, start, cells) -> None:
    await conn.executemany(
        "INSERT INTO patrol_advisories (cell, advised_at, alert_id) VALUES ($1, $2, $1)",
        [(cells["A"], start + 5 * H), (cells["B"], start + 100 * H), (cells["C"], start - 24 * H)],
    )


async def _orders(conn, start) -> None:
    december = start + 49 * H  # Wednesday 2 December, Beijing
    contacted = {"contacted_at": december + H}
    await insert_orders(
        conn,
        [
            order("o1", "c01", start + H),  # Monday 30 November: the week's, not December's
            order("o2", "c01", december, grid_id="c01-g01", grid_first=True, **contacted),
            order("o3", "c01", december, grid_id="c01-g01", **contacted),
            order("o6", "c01", december, grid_id="c01-g01", **contacted),
            order("o4", "c01", start - 48 * H),  # last week's
            order("o5", "x01", december, street_id="elsewhere"),
        ],
    )
