"""The weekly report rendered from planted figures (tests/support/weekly.py): the page's numbers, names and
times, its sections in order, the PDF looked at as a PNG (pdftoppm) and read as text (pdftotext)."""

from __future__ import annotations

import re
import subprocess

import pytest
from PIL import Image

from config.geometry import load_geometry
from config.settings import SAMPLE_GEOMETRY
from consumers.report.render import render_html, render_pdf, summary_markdown
from tests.support.weekly import planted_figures

TZ = "Asia/Shanghai"
SECTIONS = (
    "摘要",
    "分类分析",
    "小事不出社区",
    "热力图",
    "热点与重复点位",
    "巡查",
    "12345 接诉即办",
    "案例剖析",
    "附：数据口径",
)


@pytest.fixture(scope="module")
def geometry():
    return load_geometry(SAMPLE_GEOMETRY)


@pytest.fixture(scope="module")
def figures(geometry):
    return planted_figures(geometry)


@pytest.fixture(scope="module")
def html(figures, geometry):
    return render_html(figures, geometry, tz=TZ)


def _cells(html: str, section: str) -> str:
    """The text of one section, tags dropped, for checking what a reader sees there."""
    body = re.search(rf'<section id="{section}">(.*?)</section>', html, re.S).group(1)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_sections_come_in_the_order_the_street_reads_them(html):
    headings = re.findall(r"<h2>[一二三四五六七八]?、?([^<]+)</h2>", html)
    assert tuple(headings) == SECTIONS


def test_the_summary_holds_the_totals_and_says_the_flagged_changes_in_words(html):
    summary = _cells(html, "summary")
    for figure in ("437", "上周 391", "前8周平均 402.5", "298", "85.9%", "256 / 298", "7.7%"):
        assert figure in summary
    assert "新文化街社区群租明显上升：本周 17 起，上周 4 起" in summary
    assert "违章停车明显下降：本周 2 起，上周 11 起" in summary
    assert "环境卫生" not in summary  # 23 against 21 is noise, not news


def test_arrows_only_where_the_poisson_test_flags(html):
    table = _cells(html, "categories")
    assert "群租 新文化街社区 17 4 3.9 4.25 ▲" in table
    assert "环境卫生 和平门社区 23 21 22.1 0.42 按网格" in table  # flagged rows first, no arrow on noise
    assert table.count("▲") == 3  # the legend, group renting in c01, grid 1
    assert table.count("▼") == 2  # legend once, illegal parking


def test_the_principle_cases_and_hotline_in_chinese_and_street_time(html):
    principle = _cells(html, "principle")
    assert "超时升级 19" in principle and "敏感区域 5" in principle
    assert "网格 21分钟 4小时10分" in principle and "街道 14分钟 1天3小时" in principle
    cases = _cells(html, "cases")
    assert "2026-12-01 10:05 立案" in cases  # 02:05 UTC is 10:05 in Beijing
    assert "2026-12-01 12:12 升级 engine 聚集升级" in cases
    assert "2026-12-01 11:40 至 2026-12-01 11:58 合并上报 ×4 3 人 聚集升级" in cases  # one row for the run
    assert "T02:05" not in html  # no time is shown as RFC 3339
    hotline = _cells(html, "hotline")
    assert "本周工单 64 件" in hotline and "响应率" in hotline and "91.2%" in hotline
    assert "93.1% 88.0% 90.4" in hotline  # the composite as a score out of 100
    assert "统计时段：2026-11-30 00:00 至 2026-12-07 00:00" in html


def test_every_figure_names_its_query(html, figures):
    sources = _cells(html, "sources")
    assert "sinks/weekly_queries.py" in sources
    for key, name in figures["queries"].items():
        assert f"{key} {name}" in sources


def test_the_page_is_self_contained(html):
    assert "<link" not in html and "<script" not in html and "src=" not in html
    assert html.count("<svg") == 5  # all categories, and the top four


def test_the_small_multiples_share_one_scale(html):
    maps = re.findall(r"<svg.*?</svg>", html, re.S)[1:]
    legends = {tuple(re.findall(r'class="legend">([^<]+)<', svg)) for svg in maps}
    assert len(legends) == 1 and "9–13" in next(iter(legends))  # group renting's 13 tops all four


def test_the_pdf_shows_the_title_in_chinese_and_the_numbers(html, tmp_path):
    pdf = tmp_path / "week.pdf"
    pdf.write_bytes(render_pdf(html))
    subprocess.run(["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-png", pdf, tmp_path / "page"], check=True)
    page = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    title = page.crop((0, 0, page.width, page.height // 8))
    dark = sum(1 for v in title.getdata() if v < 128)
    assert dark > 200, f"only {dark} dark pixels where the title is"
    text = subprocess.run(["pdftotext", pdf, "-"], check=True, capture_output=True, text=True).stdout
    assert "西长安街街道网格事件周报" in text and "2026-W49" in text
    assert "437" in text and "85.9%" in text and "新文化街社区" in text


def test_the_summary_for_a_robot_carries_the_figures(figures):
    text = summary_markdown(figures)
    assert "上报 **437** 件" in text and "85.9%" in text
    assert "▲ c01 群租：4 → 17" in text and "▼ c03 违章停车：11 → 2" in text and "环境卫生" not in text
    named = summary_markdown({**figures, "places": {"community": {"c01": "新文化街社区"}}})
    assert "▲ 新文化街社区 群租：4 → 17" in named
    assert "](" not in text  # the link is the channel's to add, once (consumers/report/deliver.py)


def test_long_lists_are_cut_to_what_a_page_holds_and_say_so(figures, geometry):
    grid = figures["repeats"][0]["grid"]
    many = [{"grid": grid, "cell": f"8a31aa42{n:07x}", "category": "sanitation", "n": 2 + n} for n in range(45)]
    quiet = [{**figures["by_grid"][1], "grid": f"g{n}", "now": n % 7} for n in range(60)]
    html = render_html({**figures, "repeats": many, "by_grid": figures["by_grid"] + quiet}, geometry, tz=TZ)
    spots = _cells(html, "hot-spots")
    assert "本周共 45 处重复点位，列出次数最多的 20 处" in spots
    assert " 46 8a31aa42000002c" in spots and " 27 8a31aa420000019" in spots and " 26 8a31aa420000018" not in spots
    table = _cells(html, "categories")
    assert "其余 42 个网格无显著变化" in table  # of 62 grids, 20 rows: the flagged one first, then the largest
