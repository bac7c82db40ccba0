"""The weekly 专报 in PostgreSQL (migration 0012): a street's week (or a district's, under the district's id)
claimed by one maker, its files and figures stored, its announcement marked; the list and the files the console
serves, and the streets' figures a district's report is made of.

A week is made once: the claim is a row keyed by street and week, and only the claimant may store the
files. A maker that died holding a claim (nothing stored after `LEASE`) leaves it to the next one. The
announcement is at least once: the alert is published before the row says so, under an id that is the
same every time, so a second publication is recognised downstream and never delivered twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from schemas import json
from sinks.postgres import connection, transaction

LEASE = timedelta(minutes=30)  # far beyond a district's week (under 60 s): only a dead maker holds it so long
FILES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}

_CLAIM = """
INSERT INTO weekly_reports (street_id, week, claimed_by, claimed_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (street_id, week) DO UPDATE SET claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at
WHERE weekly_reports.made_at IS NULL AND weekly_reports.claimed_at < excluded.claimed_at - $5::interval
RETURNING claimed_by
"""
_STORE = """
UPDATE weekly_reports SET made_at = $4, html = $5, pdf = $6, summary = $7, figures = $8::jsonb, alert_id = $9
WHERE street_id = $1 AND week = $2 AND claimed_by = $3 AND made_at IS NULL
"""
_LIST = """
SELECT week, made_at, announced_at, octet_length(html) AS html_bytes, octet_length(pdf) AS pdf_bytes
FROM weekly_reports WHERE street_id = $1 AND made_at IS NOT NULL ORDER BY week DESC LIMIT $2
"""


@dataclass(frozen=True)
class Unannounced:
    """A made report whose alert is not known to be out yet."""

    week: str
    alert_id: str
    summary: str


async def claim(pool: asyncpg.Pool, street: str, week: str, maker: str, now: datetime) -> bool:
    """Whether `maker` is now the one to make this week's report (nobody else made or is making it)."""
    async with transaction(pool) as conn:
        return await conn.fetchval(_CLAIM, street, week, maker, now, LEASE) == maker


async def store(pool: asyncpg.Pool, street: str, week: str, maker: str, report, alert_id: str, now: datetime) -> bool:
    """Keep the claimant's report (html, pdf, summary, figures); False when its claim was lost meanwhile."""
    figures = json.dumps(report.figures).decode()
    async with transaction(pool) as conn:
        status = await conn.execute(
            _STORE, street, week, maker, now, report.html, report.pdf, report.summary, figures, alert_id
        )
    return status == "UPDATE 1"


async def unannounced(pool: asyncpg.Pool, street: str) -> list[Unannounced]:
    async with transaction(pool) as conn:
        rows = await conn.fetch(
            "SELECT week, alert_id, summary FROM weekly_reports "
            "WHERE street_id = $1 AND made_at IS NOT NULL AND announced_at IS NULL ORDER BY week",
            street,
        )
    return [Unannounced(r["week"], r["alert_id"], r["summary"]) for r in rows]


async def mark_announced(pool: asyncpg.Pool, street: str, week: str, now: datetime) -> None:
    async with transaction(pool) as conn:
        await conn.execute(
            "UPDATE weekly_reports SET announced_at = $3 WHERE street_id = $1 AND week = $2 AND announced_at IS NULL",
            street,
            week,
            now,
        )


async def made_reports(pool: asyncpg.Pool, street: str, limit: int = 260) -> list[dict]:
    """The street's made reports, newest week first (five years by default): week, made_at, announced_at
    and the files' sizes."""
    async with pool.acquire(timeout=30) as conn:
        return [dict(r) for r in await conn.fetch(_LIST, street, limit)]


async def week_figures(db, streets: list[str], week: str) -> dict[str, dict]:
    """The stored figures of `week` of those of `streets` whose report is made, by street id: what a district's
    report is composed of (consumers/report/district.py). `db`: a DSN or a pool."""
    async with connection(db) as conn:
        rows = await conn.fetch(
            "SELECT street_id, figures FROM weekly_reports "
            "WHERE street_id = ANY($1::text[]) AND week = $2 AND made_at IS NOT NULL AND figures IS NOT NULL",
            streets,
            week,
        )
    return {r["street_id"]: json.loads(r["figures"]) for r in rows}


async def made_count(pool: asyncpg.Pool, streets: list[str], week: str) -> int:
    """How many of `streets` have their report of `week` stored."""
    async with pool.acquire(timeout=30) as conn:
        return await conn.fetchval(
            "SELECT count(*) FROM weekly_reports WHERE street_id = ANY($1::text[]) AND week = $2 AND made_at IS NOT NULL",
            streets,
            week,
        )


async def last_made_before(pool: asyncpg.Pool, street: str, week: str) -> str | None:
    """The latest week before `week` whose report of `street` is stored; None when there is none."""
    async with pool.acquire(timeout=30) as conn:
        # ISO weeks as "YYYY-Www" sort as text in the order of time.
        return await conn.fetchval(
            "SELECT max(week) FROM weekly_reports WHERE street_id = $1 AND week < $2 AND made_at IS NOT NULL",
            street,
            week,
        )


async def report_file(pool: asyncpg.Pool, street: str, week: str, kind: str) -> bytes | None:
    """One made report's file, `kind` html or pdf; None when that week has none."""
    if kind not in FILES:
        raise ValueError(f"a report file is one of {', '.join(FILES)}, not {kind!r}")
    async with pool.acquire(timeout=30) as conn:
        found = await conn.fetchval(
            f"SELECT {kind} FROM weekly_reports WHERE street_id = $1 AND week = $2 AND made_at IS NOT NULL",
            street,
            week,
        )
    return found.encode() if isinstance(found, str) else found
