"""The report of a week in which nothing happened (a new street's first Monday): made, not a crash."""

from __future__ import annotations

import pytest

from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY, Settings
from consumers.report.make import make_weekly
from sinks.postgres import open_pool, seed_places

pytestmark = pytest.mark.integration


async def test_an_empty_week_is_a_report_that_says_so(scratch):
    pool = await open_pool(scratch)
    try:
        await seed_places(pool, load_geometry(SAMPLE_GEOMETRY))
        report = await make_weekly(pool, Settings(), "2026-W49")
    finally:
        await pool.close()
    assert "西长安街街道" in report.html and report.pdf.startswith(b"%PDF")
    assert report.figures["totals"]["reports"] == 0 and "上报 **0** 件" in report.summary
