"""The district's weekly report composed from two streets' figures counted by hand: totals summed and shares
recomputed from the sums, one comparison row per street, the best and worst street per measure, one heat map
of both streets' cells over the district; its page and summary in Chinese, its PDF looked at as a PNG."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from config.geometry import load_geometry
from config.sample.district import district_path
from config.settings import SAMPLE_GEOMETRY
from consumers.report.district import district_figures, reported_district
from consumers.report.district_page import district_summary, render_district_html
from consumers.report.render import render_pdf
from tests.support.district_week import cells_of, street_figures, two_streets_figures

TZ = "Asia/Shanghai"
WEEK = "2026-W49"
MADE = datetime(2026, 12, 7, 0, 3, tzinfo=UTC)  # 08:03 in Beijing


# What a street report made before a count was kept lacks: (part of the figures, key).
LATER = (("totals", "incidents_opened"), ("principle", "closed"), ("principle", "closed_in_time"))


@st.composite
def stored_street(draw):
    """A street's stored figures with drawn counts, some of LATER left out as an older report would."""
    n = st.integers(0, 500)
    incidents = draw(st.integers(1, 200))
    why = draw(st.fixed_dictionaries({w: n for w in ("deadline", "request", "cluster", "sensitive_zone")}))
    f = street_figures(
        draw(n), incidents, draw(st.integers(0, incidents)), draw(st.integers(0, incidents)),
        draw(n), draw(n), why, [], orders=draw(st.none() | n),
    )  # fmt: skip
    for part, key in draw(st.sets(st.sampled_from(LATER))):
        del f[part][key]
    return f


@pytest.fixture(scope="module")
def geometry():
    return load_geometry(district_path(streets=2))


@pytest.fixture(scope="module")
def figures(geometry):
    both = two_streets_figures(geometry)
    shared = cells_of(geometry, "xichangan", 1)[0]  # a cell both streets counted (a border's)
    streets = [("xichangan", "西长安街街道"), ("xinjiekou", "新街口街道")]
    made = district_figures(WEEK, ("xicheng", "西城区"), streets, both, tz=TZ, made_at=MADE)
    return made, shared, cells_of(geometry, "xinjiekou", 1)[0]


def test_a_district_of_several_streets_has_a_report_and_one_street_never(geometry):
    assert reported_district(geometry) == ("xicheng", "西城区")
    one = load_geometry(SAMPLE_GEOMETRY)
    assert reported_district(one) is None


def test_totals_are_the_streets_sums_and_shares_come_from_the_sums(figures):
    t = figures[0]["totals"]
    assert (t["reports"], t["previous_week_reports"], t["mean_8_weeks_reports"], t["incidents_opened"]) == (
        100,
        98,
        50.0,
        30,
    )
    assert (t["incidents"], t["settled_local"], t["overdue"], t["closed"], t["closed_in_time"]) == (30, 20, 8, 21, 14)
    assert (t["escalated_to_street"], t["ceiling_exceptions"], t["hotline_orders"]) == (7, 2, 8)
    assert t["settled_local_share"] == 20 / 30  # not the mean of 80 % and 60 %
    assert (t["overdue_rate"], t["closed_in_time_share"]) == (8 / 30, 14 / 21)


@settings(max_examples=60, deadline=None)
@given(st.lists(stored_street(), min_size=2, max_size=15))
def test_the_districts_line_is_the_sum_of_its_rows_for_every_count_it_holds(each):
    """Whatever the streets' reports hold (an old one lacks what was counted later), the 全区 line and the rows
    cannot disagree: every count of the line is its column's sum, unknown if a street's is."""
    streets = [(f"s{i}", f"街道{i}") for i in range(len(each))]
    made = district_figures(WEEK, ("d", "区"), streets, dict(zip(dict(streets), each)), tz=TZ, made_at=MADE)
    rows, t = made["streets"], made["totals"]
    counts = {key for key in t if not key.endswith(("_share", "_rate"))}
    assert counts and all(key in r for r in rows for key in counts)
    for key in counts:
        column = [r[key] for r in rows]
        assert t[key] == (None if None in column else sum(column)), key


def test_one_row_per_street_in_the_maps_order_with_its_12345_rates_where_held(figures):
    rows = figures[0]["streets"]
    assert [r["name"] for r in rows] == ["西长安街街道", "新街口街道"]
    assert rows[0] == {
        "street": "xichangan",
        "name": "西长安街街道",
        "reports": 40,
        "previous_week_reports": 39,
        "mean_8_weeks_reports": 20.0,
        "incidents_opened": 10,
        "incidents": 10,
        "settled_local": 8,
        "overdue": 2,
        "ceiling_exceptions": 1,
        "closed": 6,
        "closed_in_time": 5,
        "escalated_to_street": 2,
        "hotline_orders": 3,
        "settled_local_share": 0.8,
        "overdue_rate": 0.2,
        "closed_in_time_share": 5 / 6,
        "response": 0.9,
        "resolution": 0.8,
        "satisfaction": 0.95,
    }
    assert (rows[1]["response"], rows[1]["closed_in_time_share"], rows[1]["escalated_to_street"]) == (None, 0.6, 5)


def test_best_and_worst_street_per_measure_only_where_two_streets_hold_it(figures):
    extremes = figures[0]["extremes"]
    assert extremes == {
        "settled_local_share": {"best": "xichangan", "worst": "xinjiekou", "best_value": 0.8, "worst_value": 0.6},
        "closed_in_time_share": {"best": "xichangan", "worst": "xinjiekou", "best_value": 5 / 6, "worst_value": 0.6},
        "overdue_rate": {"best": "xichangan", "worst": "xinjiekou", "best_value": 0.2, "worst_value": 0.3},
    }  # the 12345 rates: one street holds them, nothing to compare


def test_the_heat_map_adds_both_streets_cells(figures):
    made, shared, east = figures
    cells = {c["cell"]: c["n"] for c in made["heat"]["cells"]}
    assert len(cells) == 5 and cells[shared] == 7 and sum(cells.values()) == 21
    assert made["heat"]["cells"][0] == {"cell": shared, "n": 7} and cells[east] == 6


def test_a_street_report_made_before_closed_was_counted_leaves_the_total_unknown(geometry):
    old = street_figures(5, 2, 1, 0, 1, 1, {"deadline": 0}, [])
    del old["principle"]["closed"], old["principle"]["closed_in_time"]
    new = street_figures(5, 2, 1, 0, 1, 1, {"deadline": 0}, [])
    made = district_figures(WEEK, ("d", "区"), [("a", "甲"), ("b", "乙")], {"a": old, "b": new}, tz=TZ, made_at=MADE)
    assert (made["totals"]["closed"], made["totals"]["closed_in_time_share"]) == (None, None)
    assert made["streets"][0]["closed_in_time_share"] is None and made["totals"]["reports"] == 10


def test_a_count_an_old_street_report_lacks_reads_as_a_dash_never_none(geometry):
    old = street_figures(5, 2, 1, 0, 1, 1, {"deadline": 0}, [])
    for part, key in LATER:
        del old[part][key]
    new = street_figures(5, 2, 1, 0, 1, 1, {"deadline": 0}, [])
    made = district_figures(WEEK, ("d", "区"), [("a", "甲"), ("b", "乙")], {"a": old, "b": new}, tz=TZ, made_at=MADE)
    page, summary = render_district_html(made, geometry, tz=TZ), district_summary(made)
    assert "None" not in page and "None" not in summary
    assert "立案<b>—</b>" in page and "立案 — 件" in summary


def test_the_page_and_the_summary_are_chinese_with_local_times(figures, geometry):
    made = figures[0]
    page = render_district_html(made, geometry, tz=TZ)
    assert "西城区全区网格事件周报（2026-W49）" in page
    assert "统计时段：2026-11-30 00:00 至 2026-12-07 00:00" in page and "生成时间：2026-12-07 08:03" in page
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "西长安街街道 40 10 6 83.3% 2 2 80.0% 90.0% 80.0% 95.0%" in text
    assert "新街口街道 60 20 15 60.0% 5 6 60.0% — — —" in text
    assert "全区 100 30 21 66.7% 7 8 66.7%" in text
    assert "超时率 西长安街街道 20.0% 新街口街道 30.0%" in text
    assert page.count('class="label"') == 2 and "西长安街街道 08:01" in text.replace("2026-12-07 ", "")
    summary = district_summary(made)
    assert summary.splitlines()[0] == "## 西城区 全区周报 2026-W49"
    assert "上报 **100** 件" in summary and "最差 新街口街道 30.0%" in summary


def test_the_districts_own_queue_is_a_line_under_the_table_beside_the_totals_never_in_them(geometry):
    both, streets = two_streets_figures(geometry), [("xichangan", "西长安街街道"), ("xinjiekou", "新街口街道")]
    queue = {"received": 12, "placed": 9, "waiting": 3}
    made = district_figures(WEEK, ("xicheng", "西城区"), streets, both, tz=TZ, made_at=MADE, queue=queue)
    assert made["queue"] == queue and made["totals"]["reports"] == 100  # the streets' alone
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", render_district_html(made, geometry, tz=TZ)))
    said = "本周街道外上报 12 件，截至本周末已指派到街道 9 件（计入所在街道），仍待定位 3 件（不在任何街道的数字里）"
    assert f"全区 100 30 21 66.7% 7 8 66.7% 区级待定位 ：{said}。" in text  # right under the 全区 line
    assert f"> 区级待定位：{said}" in district_summary(made).splitlines()
    unknown = district_figures(WEEK, ("xicheng", "西城区"), streets, both, tz=TZ, made_at=MADE)  # not counted
    assert "区级待定位" not in render_district_html(unknown, geometry, tz=TZ) + district_summary(unknown)


def test_the_pdf_is_one_a4_page_or_two_with_the_map_drawn(figures, geometry, tmp_path):
    pdf = tmp_path / "district.pdf"
    pdf.write_bytes(render_pdf(render_district_html(figures[0], geometry, tz=TZ)))
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    print(f"district report: {len(pages)} pages, {pdf.stat().st_size} bytes; first page {pages[0]}")
    assert 1 <= len(pages) <= 2
    colours = set()
    for page in pages:
        colours |= {rgb for _, rgb in Image.open(page).convert("RGB").getcolors(1 << 20)}
    assert (0xBD, 0x00, 0x26) in colours or (0xF0, 0x3B, 0x20) in colours  # the hottest cells are drawn


def streets_of(geometry) -> list[tuple[str, str]]:
    return [(s.id, s.name) for s in geometry.streets.values()]


def figures_of(geometry) -> dict:
    """Every street of `geometry` with counts as wide as a busy week's (5 digits in the 全区 line)."""
    return {
        ident: street_figures(
            1234 + 37 * i, 456 + i, 300 + i, 12 + i, 400, 380, {"deadline": 10 + i, "request": 3},
            [(cell, 3 + i) for cell in cells_of(geometry, ident, 2)], rates={"response": 0.95} if i % 2 else None,
        )
        for i, (ident, _) in enumerate(streets_of(geometry))
    }  # fmt: skip


@pytest.mark.parametrize("n", [2, 15])
def test_the_comparison_fits_a4_with_no_header_or_row_wrapped_and_nothing_cut(n, tmp_path):
    geometry = load_geometry(district_path(streets=n), check_areas=False)
    streets = streets_of(geometry)
    made = district_figures(WEEK, reported_district(geometry), streets, figures_of(geometry), tz=TZ, made_at=MADE)
    pdf = tmp_path / "district.pdf"
    pdf.write_bytes(render_pdf(render_district_html(made, geometry, tz=TZ)))
    read = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
    lines = [" ".join(line.split()) for line in read.stdout.splitlines()]
    header = "街道 上报 立案 办结 事件按时办结率 升级到街道 超时督办 小事不出社区 响应率 解决率 满意率"
    assert header in lines  # every header on the one line, none wrapped
    for name, row in zip((name for _, name in streets), made["streets"]):  # each street's name and figures
        assert any(line.startswith(f"{name} {row['reports']} {row['incidents']} {row['closed']} ") for line in lines)
    assert any(line.startswith(f"全区 {made['totals']['reports']} ") for line in lines)
    boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    width = float(re.search(r'<page width="([0-9.]+)"', boxes)[1])
    right = max(float(x) for x in re.findall(r'xMax="([0-9.]+)"', boxes))
    print(f"{n} streets: rightmost word at {right:.1f} pt of {width:.1f}")
    assert right <= width - 14 * 72 / 25.4 + 1  # within the right margin (14 mm): nothing runs off the page
