"""`redwall report weekly --sample`: with nothing set up, a generated week in an embedded PostgreSQL of its
own becomes both files, and the page holds what the sample planted."""

from __future__ import annotations

import re
import time

from streams.cli.main import main

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
