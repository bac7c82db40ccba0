"""The weekly 专报 as people read it: one self-contained HTML page (inline CSS and SVG, A4 print CSS), its PDF
(WeasyPrint), and the markdown summary a WeCom robot posts. Chinese first: every name from
schemas/display.py, every time `local_minute` in the street's zone. The figures are R1's `weekly_figures`.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from config.geometry import Geometry
from config.roster import ROLES
from consumers.report.heatmap import heat_svg
from schemas.display import CATEGORY, INCIDENT_EVENT, INCIDENT_STATUS, LEVEL, PLACE, RATE, local_minute, span_zh
from schemas.records import UNLOCATED

TEMPLATES = Path(__file__).parent / "templates"
SQL_HOME = "sinks/weekly_queries.py"
WHY = {"deadline": "超时升级", "request": "社区请求", "cluster": "聚集升级", "sensitive_zone": "敏感区域"}
FLAG = {"up": "▲", "down": "▼", None: ""}
SMALL_WIDTH = 300
SAID = 6  # flagged changes told in words in the summary; the table has them all
TOP_ROWS = 20  # rows of the category and grid tables shown beside the flagged ones (a page each)


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters.update(pct=pct, span=span, num=num, score=score)
    return env


def pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def span(seconds: float | None) -> str:
    return "—" if seconds is None else span_zh(seconds)


def score(share: float | None) -> str:
    """The 12345 composite as the city ranks it: a score out of 100."""
    return "—" if share is None else f"{share * 100:.1f}"


def num(value: float | None) -> str:
    """A count as an integer, a mean to one decimal."""
    if value is None:
        return "—"
    return str(value) if isinstance(value, int) else f"{value:.1f}"


class Names:
    """Areas and codes in Chinese: communities and grids from the geometry, the rest from schemas/display.py."""

    def __init__(self, geometry: Geometry):
        self.areas = {**{a.id: a.name for a in geometry.communities.values()}, **PLACE}
        self.areas.update({a.id: a.name for a in geometry.grids.values()})

    def area(self, ident: str | None) -> str:
        """A report outside every grid has no community: the street's unlocated queue."""
        return self.areas.get(ident or UNLOCATED, ident)

    @staticmethod
    def category(code: str) -> str:
        return CATEGORY.get(code, code)


def flagged_sentences(figures: dict, names: Names) -> list[str]:
    """The changes the Poisson test calls real, in words, biggest first; the rest counted in one line."""
    rows = [r for r in figures["by_category_community"] if r["flag"]]
    rows.sort(key=lambda r: -abs(r["z"]))
    said = []
    for r in rows[:SAID]:
        way = "明显上升" if r["flag"] == "up" else "明显下降"
        said.append(
            f"{names.area(r['community'])}{names.category(r['category'])}{way}：本周 {r['now']} 起，"
            f"上周 {r['last_week']} 起，前8周平均 {num(r['mean_8'])} 起。"
        )
    if len(rows) > SAID:
        said.append(f"另有 {len(rows) - SAID} 项变化，见分类分析（▲▼）。")
    return said


def shown_rows(rows: list[dict], top: int | None = None) -> tuple[list[dict], int]:
    """The rows a table shows: none that is zero this week, last week and in the 8-week mean; flagged
    first, then by this week's count; with `top`, the flagged and the `top` largest only. And how many left out."""
    kept = [r for r in rows if r["now"] or r["last_week"] or r["mean_8"]]
    kept.sort(key=lambda r: (r["flag"] is None, -r["now"], -(r["mean_8"] or 0)))
    if top is not None:
        kept = [r for n, r in enumerate(kept) if r["flag"] or n < top]
    return kept, len(rows) - len(kept)


def _heat(figures: dict, geometry: Geometry) -> dict:
    """The map of all categories, and the small multiples on one scale, so the same colour is the same count."""
    heat = figures["heat"]
    top = max((c["n"] for cells in heat["by_category"].values() for c in cells), default=0)
    small = [
        {
            "name": CATEGORY.get(cat, cat),
            "svg": Markup(heat_svg(cells, geometry, width=SMALL_WIDTH, labels=False, maximum=top)),
        }
        for cat, cells in heat["by_category"].items()
    ]
    return {"all": Markup(heat_svg(heat["cells"], geometry, title="全部类别")), "small": small}


def _cases(figures: dict, tz: str) -> list[dict]:
    cases = []
    for case in figures["cases"]:
        timeline = [_step(run, tz) for run in timeline_runs(case["timeline"])]
        cases.append({**case, "opened_at": local_minute(case["opened_at"], tz), "timeline": timeline})
    return cases


def timeline_runs(steps: list[dict]) -> list[list[dict]]:
    """The steps in runs: each merged report that follows another is one run with it (a busy incident merges
    hundreds, which would fill pages); every other step is a run of its own."""
    runs: list[list[dict]] = []
    for step in steps:
        if runs and step["kind"] == "report_merged" and runs[-1][-1]["kind"] == "report_merged":
            runs[-1].append(step)
        else:
            runs.append([step])
    return runs


def _step(run: list[dict], tz: str) -> dict:
    first, last = run[0], run[-1]
    kind = INCIDENT_EVENT.get(first["kind"], first["kind"])
    if len(run) == 1:
        return {**first, "when": local_minute(first["when"], tz), "kind": kind}
    actors = len({step["actor"] for step in run})
    return {
        **first,
        "when": f"{local_minute(first['when'], tz)} 至 {local_minute(last['when'], tz)}",
        "kind": f"{kind} ×{len(run)}",
        "actor": f"{actors} 人",
    }


def render_html(figures: dict, geometry: Geometry, *, tz: str) -> str:
    """The report's page, self-contained: it can be mailed, archived or printed as it is."""
    names = Names(geometry)
    return (
        environment()
        .get_template("weekly.html.j2")
        .render(
            f=figures,
            names=names,
            tz=tz,
            period=f"{local_minute(figures['start'], tz)} 至 {local_minute(figures['end'], tz)}",
            made_at=local_minute(figures["made_at"], tz),
            flagged=flagged_sentences(figures, names),
            by_category=shown_rows(figures["by_category_community"], TOP_ROWS),
            by_grid=shown_rows(figures["by_grid"], TOP_ROWS),
            repeats=sorted(figures["repeats"], key=lambda r: -r["n"])[:TOP_ROWS],
            heat=_heat(figures, geometry),
            cases=_cases(figures, tz),
            CATEGORY=CATEGORY,
            LEVEL=LEVEL,
            INCIDENT_STATUS=INCIDENT_STATUS,
            RATE=RATE,
            ROLES=ROLES,
            WHY=WHY,
            FLAG=FLAG,
            SQL_HOME=SQL_HOME,
            css=Markup((TEMPLATES / "weekly.css").read_text(encoding="utf-8")),
        )
    )


def render_pdf(html: str) -> bytes:
    """The page as an A4 PDF; fonts from the system (fonts-wqy-zenhei for the Chinese)."""
    from weasyprint import HTML  # loads pango on first use: a process that never prints a PDF never needs it

    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)  # a line per page otherwise
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    return HTML(string=html).write_pdf()


def summary_markdown(figures: dict) -> str:
    """What a robot posts: the week's key figures and flagged changes (the channel adds the report's link,
    consumers/report/deliver.py)."""
    totals, principle = figures["totals"], figures["principle"]
    lines = [
        f"## {figures['street']['name']} 周报 {figures['week']}",
        f"> 上报 **{totals['reports']}** 件（上周 {totals['previous_week_reports']}，"
        f"前8周平均 {num(totals['mean_8_weeks_reports'])}），立案 {totals['incidents_opened']} 件",
        f"> 小事不出社区：{pct(principle['settled_local_share'])}；超时督办 {principle['overdue']} 件"
        f"（{pct(principle['overdue_rate'])}）；越级 {principle['ceiling_exceptions']} 件",
    ]
    named = figures.get("places", {}).get("community", {})  # names as stored, when the figures carry them
    flagged = [r for r in figures["by_category_community"] if r["flag"]]
    for r in sorted(flagged, key=lambda r: -abs(r["z"]))[:SAID]:
        where = named.get(r["community"], r["community"] or PLACE[UNLOCATED])
        category = CATEGORY.get(r["category"], r["category"])
        lines.append(f"> {FLAG[r['flag']]} {where} {category}：{r['last_week']} → {r['now']}")
    return "\n".join(lines)
