"""Grafana's governance dashboard reads PostgreSQL only through the weekly 专报's own queries
(sinks/weekly_queries.py), with Grafana's time range and `street` variable in place of the parameters:
every panel's SQL is one of the module's constants so rewritten, and gives the report's numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import asyncpg

from consumers.report.figures import week_bounds
from sinks import weekly_queries
from tests.support.weekly_week import plant_week

BOARD = Path(__file__).parents[2] / "config" / "grafana" / "dashboards" / "governance.json"
# What each parameter of the module becomes on the dashboard (its docstring says the same).
GRAFANA = {
    "1": "$__timeFrom()",
    "2": "$__timeTo()",
    "3": "'${street}'",
    "4": "($__timeFrom()::timestamptz - interval '7 days')",
    "5": "($__timeFrom()::timestamptz - interval '56 days')",
}


def for_grafana(sql: str) -> str:
    return re.sub(r"\$(\d)\b", lambda m: GRAFANA[m[1]], sql.strip())


def constants() -> dict[str, str]:
    return {n: v for n, v in vars(weekly_queries).items() if n.isupper() and isinstance(v, str)}


def postgres_panels() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["rawSql"])
        for panel in json.loads(BOARD.read_text(encoding="utf-8"))["panels"]
        for target in panel.get("targets", ())
        if target["datasource"]["type"] == "grafana-postgresql-datasource"
    ]


def test_every_postgres_panel_runs_a_query_of_the_report():
    known = {for_grafana(sql): name for name, sql in constants().items()}
    panels = postgres_panels()
    assert len(panels) >= 7
    assert [title for title, sql in panels if sql not in known] == []
    used = {known[sql] for _, sql in panels}
    assert {"TOTALS", "PRINCIPLE", "CEILING", "BY_CATEGORY_COMMUNITY", "PATROL"} <= used


async def test_a_panel_over_a_week_gives_the_reports_numbers(scratch):
    """Grafana's expansion (time range as RFC 3339 literals, the variable as typed) against the
    module's query with its parameters, over a planted week."""
    start, end = week_bounds("2026-W49", "Asia/Shanghai")
    names = {for_grafana(sql): name for name, sql in constants().items()}
    conn = await asyncpg.connect(scratch)
    try:
        await plant_week(conn, start, end)
        for title, sql in postgres_panels():
            expanded = (
                sql.replace("$__timeFrom()", f"'{start:%Y-%m-%dT%H:%M:%SZ}'")
                .replace("$__timeTo()", f"'{end:%Y-%m-%dT%H:%M:%SZ}'")
                .replace("${street}", "xichangan")
            )
            query = getattr(weekly_queries, names[sql])
            arity = max(int(n) for n in re.findall(r"\$(\d)\b", query))
            args = (
                start,
                end,
                "xichangan",
                *week_bounds("2026-W48", "Asia/Shanghai")[:1],
                *week_bounds("2026-W41", "Asia/Shanghai")[:1],
            )
            expected = [dict(r) for r in await conn.fetch(query, *args[:arity])]
            assert [dict(r) for r in await conn.fetch(expanded)] == expected, title
            assert expected, title
    finally:
        await conn.close()
