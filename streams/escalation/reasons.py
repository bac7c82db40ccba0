"""Why an incident changed, in the words a dispatcher reads in its history: Chinese, with times in the
street's zone to the minute, for the engine's own transitions (opened, merged, cluster, deadline) and
refusals. A person's own words in an action are kept as given. `why_en` says the same for the alerts'
English text, from the event's codes and facts. Pure; names come from schemas/display.py."""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.display import (
    ACTION,
    CATEGORY,
    DEADLINE,
    INCIDENT_EVENT,
    INCIDENT_STATUS,
    LEVEL,
    PAUSE_REASON,
    PLACE,
    REQUEST,
    SEVERITY,
    local_minute,
    span_zh,
)
from streams.escalation.clocks import FIELD

# What an action does, named by the event it leads to, so its Chinese name is the event's.
DOES = {
    "ack": "acknowledged",
    "resolve": "resolved",
    "reopen": "reopened",
    "request_escalation": "escalated",
    "reassign": "assigned",
    "close_duplicate": "closed",
}
# What a missed deadline asked for, named the same way.
ASKED = {"acknowledge": "acknowledged", "resolve": "resolved"}


def place_zh(community: str) -> str:
    return PLACE.get(community) or f"社区 {community}"


class Reasons:
    """The Chinese reasons of one street, whose time zone is `tz` (an IANA name)."""

    def __init__(self, tz: str):
        self.tz = tz

    @staticmethod
    def opened(category: str, severity: str, level: str) -> str:
        return f"{CATEGORY[category]}（{SEVERITY[severity]}）按规则由{LEVEL[level]}处置"

    @staticmethod
    def sensitive_zone(zone_name: str, level: str) -> str:
        return f"位于敏感区域「{zone_name}」，直接由{LEVEL[level]}处置"

    @staticmethod
    def unlocated() -> str:
        return "位置在街道所有网格之外（未定位）：请街道调度员指派到本街道的社区或网格"

    @staticmethod
    def merged(reports: int) -> str:
        return f"附近同类上报，第 {reports} 条并入本事件"

    @staticmethod
    def cluster(reports: int, category: str, window: timedelta) -> str:
        return f"{span_zh(window.total_seconds())}内附近{CATEGORY[category]}上报达 {reports} 条"

    def deadline(self, kind: str, due: datetime, level: str, to_level: str | None) -> str:
        """A deadline missed at `level`: escalated to `to_level`, or (None) nowhere left to go."""
        missed = f"{DEADLINE[kind]} {local_minute(due, self.tz)} 已过，{LEVEL[level]}未{INCIDENT_EVENT[ASKED[kind]]}"
        return f"{missed}，升至{LEVEL[to_level]}" if to_level else f"{missed}，超时督办"

    def warning(self, kind: str, due: datetime, share: float) -> str:
        return f"{DEADLINE[kind]} {local_minute(due, self.tz)} 将至（时限已过 {share:.0%}），请尽快{INCIDENT_EVENT[ASKED[kind]]}"

    def paused(self, reason: str, words: str, counts_until: datetime | None) -> str:
        until = f"；未经街道批准，计时至多停到 {local_minute(counts_until, self.tz)}" if counts_until else ""
        return f"挂起（{PAUSE_REASON[reason]}）：{words}{until}"

    def resumed(self, paused_since: str, words: str) -> str:
        return f"恢复计时（自 {local_minute(paused_since, self.tz)} 挂起）：{words}"

    @staticmethod
    def requested(kind: str, detail: str, words: str) -> str:
        return f"申请{REQUEST[kind]}（{detail}），待街道批准：{words}"

    @staticmethod
    def answered(kind: str, approved: bool, actor: str, words: str) -> str:
        return f"{'批准' if approved else '不予批准'}{REQUEST[kind]}申请（{actor}）：{words}"

    @staticmethod
    def returned(unit: str, words: str) -> str:
        return f"退回：不属本街道处置，应由「{unit}」办理：{words}"

    @staticmethod
    def duplicate(of: str, words: str) -> str:
        return f"与 {of} 重复：{words}"

    @staticmethod
    def placed(owner: str, community: str, new_incident: str, words: str) -> str:
        where = f"社区 {community}" + (f"（网格 {owner}）" if owner != community else "")
        return f"已指派到{where}，在该社区立案（{new_incident}）：{words}"

    # -- refusals (action_rejected) -------------------------------------------------------------
    @staticmethod
    def unknown(incident: str, community: str) -> str:
        return f"找不到事件 {incident}（{place_zh(community)}）：从未立案，或办结已久不再保留"

    @staticmethod
    def not_now(action: str, status: str, allowed) -> str:
        when = "或".join(INCIDENT_STATUS[s] for s in sorted(allowed))
        does = INCIDENT_EVENT[DOES[action]] if action in DOES else ACTION[action]
        return f"事件{INCIDENT_STATUS[status]}，不能{does}（仅{when}时可以）"

    def already_paused(self, since: str) -> str:
        return f"事件已于 {local_minute(since, self.tz)} 挂起：先恢复计时，再重新挂起"

    @staticmethod
    def not_paused() -> str:
        return "事件未挂起，无需恢复计时"

    @staticmethod
    def pending(kind: str) -> str:
        return f"已有一份{REQUEST[kind]}申请待街道批准：请等它批准或不予批准"

    @staticmethod
    def not_longer(limit: str, current: str) -> str:
        return f"延期后的时限 {limit} 不比现在的办结时限 {current} 长：延期须给出更长的时限"

    @staticmethod
    def beyond_calendar(limit: str) -> str:
        return f"延期后的时限 {limit} 超出工作日历已知的年份，无法计算：请给出较短的时限"

    @staticmethod
    def no_request(request) -> str:
        return f"request {request!r} 不是这件事件待批的挂起、延期或退回申请"

    @staticmethod
    def not_an_owner(owner, community: str) -> str:
        return f"{owner!r} 不是 {community} 的网格或社区，也不是本街道"

    @staticmethod
    def place_it(owner) -> str:
        return f"未定位事件须指派到本街道的社区或网格（如 c03 或 c03-g02），{owner!r} 不是"

    @staticmethod
    def report_gone() -> str:
        return "这件未定位事件的上报已不在 located-reports 主题中（超过保留期），无法指派：请按原上报重新登记"

    @staticmethod
    def not_a_duplicate(of) -> str:
        return f"duplicate_of {of!r} 不是另一件已知事件"

    @staticmethod
    def ceiling() -> str:
        return "已在街道：再往上须有 [[ceiling.allow]] 规则（小事不出社区，大事不出街道）"


def why_en(event: dict) -> str:
    """The reason of an event in English, for an alert's English text (times stay RFC 3339)."""
    code, state = event["reason_code"], event.get("state", {})
    if code == "report":
        return f"{event['category']}/{event['severity']} starts at {event['to_level']}"
    if code == "sensitive_zone":
        return f"inside a sensitive zone, straight to the {event['to_level']}"
    if code == "unlocated":
        return "outside every grid of the street: the street's dispatchers place it in a community"
    if code == "cluster":
        return f"{int(state.get('reports', 0))} reports of {event['category']} nearby"
    if code.startswith("warning_"):
        kind = code.removeprefix("warning_")
        return f"{kind} deadline {state.get(FIELD[kind], '')} is near"
    if code.startswith("deadline_"):
        return f"{code.removeprefix('deadline_')} deadline {event['when']} missed at {event.get('from_level')}"
    return event["reason"]  # a person's action: their own words
