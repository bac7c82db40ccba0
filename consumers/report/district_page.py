"""The district's weekly 专报 as people read it: its own short page (templates/district.html.j2) in the street
report's style, its heat map drawn by heatmap.py over the whole district, and the robot's summary. Chinese
first; every time `local_minute` in the district's zone. The figures are district.py's."""

from __future__ import annotations

from markupsafe import Markup

from config.geometry import Geometry
from consumers.report.district import RATES
from consumers.report.heatmap import heat_svg
from consumers.report.render import TEMPLATES, environment, pct
from schemas.display import DISTRICT_QUEUE, INCIDENTS_CLOSED_IN_TIME, RATE, WHOLE_DISTRICT, local_minute

# What the comparison's measures are called: the 12345 rates and the incidents' share by their names in
# schemas/display.py.
MEASURE = {
    "settled_local_share": "小事不出社区",
    "closed_in_time_share": INCIDENTS_CLOSED_IN_TIME,
    "overdue_rate": "超时率",
    **{rate: RATE[rate] for rate in RATES},
}


def render_district_html(figures: dict, geometry: Geometry, *, tz: str) -> str:
    """The page, self-contained like the street's: inline CSS and SVG."""
    names = {s["street"]: s["name"] for s in figures["streets"]}
    return (
        environment()
        .get_template("district.html.j2")
        .render(
            f=figures,
            tz=tz,
            WHOLE=WHOLE_DISTRICT,
            QUEUE=DISTRICT_QUEUE,
            IN_TIME=INCIDENTS_CLOSED_IN_TIME,
            period=f"{local_minute(figures['start'], tz)} 至 {local_minute(figures['end'], tz)}",
            made_at=local_minute(figures["made_at"], tz),
            sources=[
                {"name": names[s["street"]], "made_at": local_minute(s["made_at"], tz) if s["made_at"] else "—"}
                for s in figures["sources"]
            ],
            extremes=[
                {**e, "measure": MEASURE[m], "best": names[e["best"]], "worst": names[e["worst"]]}
                for m, e in figures["extremes"].items()
            ],
            heat=Markup(heat_svg(figures["heat"]["cells"], geometry, title=WHOLE_DISTRICT)),
            RATE=RATE,
            queue=queue_words(figures["queue"]) if figures.get("queue") else None,
            css=Markup((TEMPLATES / "weekly.css").read_text(encoding="utf-8")),
        )
    )


def district_summary(figures: dict) -> str:
    """What a robot posts for the district: the totals and the street that did worst on each measure (the
    channel adds the link)."""
    t, names = figures["totals"], {s["street"]: s["name"] for s in figures["streets"]}
    lines = [
        f"## {figures['district']['name']} {WHOLE_DISTRICT}周报 {figures['week']}",
        f"> {len(figures['streets'])} 个街道：上报 **{_count(t['reports'])}** 件，立案 {_count(t['incidents_opened'])} 件，"
        f"办结 {_count(t['closed'])} 件（按时 {pct(t['closed_in_time_share'])}）",
        f"> 小事不出社区：{pct(t['settled_local_share'])}；升级到街道 {_count(t['escalated_to_street'])} 件；"
        f"超时督办 {_count(t['overdue'])} 件（{pct(t['overdue_rate'])}）；越级 {_count(t['ceiling_exceptions'])} 件",
    ]
    if queue := figures.get("queue"):
        lines.append(f"> {DISTRICT_QUEUE}：{queue_words(queue)}")
    for measure, e in figures["extremes"].items():
        lines.append(
            f"> {MEASURE[measure]}：最好 {names[e['best']]} {pct(e['best_value'])}，最差 {names[e['worst']]} {pct(e['worst_value'])}"
        )
    return "\n".join(lines)


def queue_words(queue: dict) -> str:
    """The district's own queue in a sentence, as the page and the robot say it."""
    ended = queue["received"] - queue["placed"] - queue["waiting"]
    return (
        f"本周街道外上报 {queue['received']} 件，截至本周末已指派到街道 {queue['placed']} 件（计入所在街道），"
        f"仍待定位 {queue['waiting']} 件（不在任何街道的数字里）" + (f"，未指派即关闭 {ended} 件" if ended else "")
    )


def _count(n: int | None) -> str:
    return "—" if n is None else str(n)
