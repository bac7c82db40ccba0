"""`redwall report weekly --sample`: with nothing set up, a generated week in an embedded PostgreSQL of its
own becomes both files, and the page holds what the sample planted. `--street <district id>`: the district's
own report, by hand, from a street's stored figures and a street counted now."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime

import asyncpg

from config.geometry import load_geometry
from config.sample.district import district_path
from sinks.weekly_reports import claim, store
from streams.cli.main import main
from tests.support.district_week import FiguresMaker, two_streets_figures

WEEK = "2026-W48"


def test_sample_writes_the_html_and_the_pdf_with_the_planted_figures(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)  # away from any running demo's address file
    monkeypatch.delenv("DATABASE_URL", raising=False)
    began = time.perf_counter()
    code = main(["--log-level", "warning", "report", "weekly", "--sample", "--week", WEEK, "--out", "out"])
    out = capsys.readouterr().out
    print(f"report weekly --sample: {time.perf_counter() - began:.1f} s")
    assert code == 0
    html, pdf = tmp_path / "out" / f"{WEEK}.html", tmp_path / "out" / f"{WEEK}.pdf"
    assert out.splitlines()[-2:] == [str(html.relative_to(tmp_path)), str(pdf.relative_to(tmp_path))]
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 50_000
    page = html.read_text(encoding="utf-8")
    assert f"网格事件周报（{WEEK}）" in page
    assert "统计时段：2026-11-23 00:00 至 2026-11-30 00:00" in page
    assert re.search(r"上报事项<b>500</b>", page)  # the sample's 500 reports, 12345 orders' included
    assert "本周工单 60 件" in page  # 12 % of them
    assert re.search(r"新文化街社区群租明显上升：本周 \d+ 起", page)  # the planted change, told in words


def test_a_week_that_is_not_one_is_refused_in_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(["report", "weekly", "--sample", "--week", "2026-49", "--out", "out"]) == 2
    assert "not an ISO week" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_districts_report_by_hand_from_a_stored_street_and_one_counted_now(scratch, monkeypatch, capsys, tmp_path):
    week, path = "2037-W11", district_path(2)
    asyncio.run(_store_one_street(scratch, week, two_streets_figures(load_geometry(path))))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", scratch)
    monkeypatch.setenv("REDWALL_GEOMETRY", str(path))
    code = main(["--log-level", "warning", "report", "weekly", "--street", "xicheng", "--week", week, "--out", "out"])
    out = capsys.readouterr().out
    assert code == 0 and out.splitlines()[0].startswith(f"# 西城区 {week} · ")
    assert (tmp_path / "out" / f"{week}.pdf").read_bytes().startswith(b"%PDF")
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (tmp_path / "out" / f"{week}.html").read_text("utf-8")))
    assert "西长安街街道 40 10 6 83.3%" in page  # stored
    assert "新街口街道 0 0 0 —" in page  # nothing in its week: counted now, from PostgreSQL
    assert "全区 40 10 6 83.3%" in page


async def _store_one_street(dsn: str, week: str, figures: dict) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=0, max_size=1)
    try:
        now = datetime.now(UTC)
        assert await claim(pool, "xichangan", week, "by-hand", now)
        made = await FiguresMaker(figures)(pool, None, week, "xichangan")
        assert await store(pool, "xichangan", week, "by-hand", made, f"report:weekly:xichangan:{week}", now)
    finally:
        await pool.close()
