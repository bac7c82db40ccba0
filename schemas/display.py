"""What people read: the Chinese names of categories, severities, levels, statuses, roles and alert kinds,
and times in the street's time zone to the minute. Defined here once; the alerts, the webhooks, the
console (served as JSON at /api/names) and the CLI all take them from this module."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.hotline import APPEAL_TYPES, CHANNELS, CLOCKS, ORDER_EVENTS, SATISFACTION, URGENCIES
from schemas.records import (
    ACTIONS,
    ALERT_KINDS,
    CATEGORIES,
    INCIDENT_EVENTS,
    INCIDENT_STATUSES,
    LEVELS,
    PATROL_STATUSES,
    PAUSE_REASONS,
    PLACED_BY,
    PRIORITIES,
    REQUESTS,
    SEVERITIES,
    UNLOCATED,
)
from schemas.tasks import DEADLINES as TASK_DEADLINES
from schemas.tasks import KINDS as TASK_KINDS
from schemas.tasks import TASK_ACTIONS, TASK_EVENTS, TASK_STATUSES

CATEGORY = {
    "sanitation": "环境卫生",
    "illegal_construction": "违法建设",
    "group_renting": "群租",
    "underground_space": "地下空间",
    "safety_hazard": "安全隐患",
    "dispute": "矛盾纠纷",
    "facility_damage": "设施损坏",
    "illegal_parking": "违章停车",
    "new_resident": "生脸登记",
    "hotline_12345": "12345 热线",
    "public_sentiment": "民情日志",
    "other": "其他",
}
SEVERITY = {"low": "轻微", "medium": "一般", "high": "较重", "critical": "严重"}
# district: beyond the street, which the principle says should not happen, hence 越级.
LEVEL = {"grid": "网格", "community": "社区", "street": "街道", "district": "区（越级）"}
WHOLE_DISTRICT = "全区"  # every street of a deployment together (a rate, a total)
# Reports outside every grid, in the district's own queue until placed in a street: in no street's figures.
DISTRICT_QUEUE = "区级待定位"
# Incidents closed (resolved) and not overdue / closed: the weekly reports' share, not 12345's RATE["on_time"].
INCIDENTS_CLOSED_IN_TIME = "事件按时办结率"
PRIORITY = {"normal": "普通", "high": "优先", "top": "特急"}
INCIDENT_STATUS = {"assigned": "待签收", "acknowledged": "处置中", "resolved": "已办结", "closed": "已关闭"}
INCIDENT_EVENT = {
    "opened": "立案",
    "report_merged": "合并上报",
    "assigned": "转派",
    "acknowledged": "签收",
    "escalated": "升级",
    "deadline_missed": "超时",
    "resolved": "办结",
    "reopened": "重新打开",
    "closed": "关闭",
    "action_rejected": "操作被拒",
    "paused": "挂起",
    "resumed": "恢复计时",
    "requested": "申请待批",
    "approved": "批准挂起",
    "denied": "不予批准",
    "extended": "延期",
    "returned": "退回",
    "warned": "预警",
}
PATROL_STATUS = {"off_duty": "不在班", "unknown": "待定位", "on_post": "在岗", "off_post": "离岗", "offline": "失联"}
ALERT_KIND = {
    "incident_opened": "新事件",
    "incident_escalated": "事件升级",
    "deadline_breached": "超时督办",
    "incident_reopened": "事件重开",
    "ceiling_exceeded": "越过街道上报",
    "off_post": "离岗",
    "offline": "失联",
    "coverage_gap": "在岗不足",
    "patrol_advisory": "前响应巡查",
    "incident_assigned": "事件转派",
    "hotline_warning": "12345 临期预警",
    "hotline_breached": "12345 超时",
    "weekly_report": "每周专报",
    "deadline_warning": "临期预警",
    "approval_requested": "待审批",
    "task_warning": "任务临期",
    "task_late": "任务超时",
}
ALERT_STATUS = {"firing": "告警中", "resolved": "已解除"}
DEADLINE = {"acknowledge": "签收时限", "resolve": "办结时限"}
PAUSE_REASON = {
    "resident": "等待居民",
    "department": "等待其他部门",
    "weather": "天气原因",
    "legal": "法定程序",
    "other": "其他",
}
REQUEST = {"pause": "挂起", "extend": "延期", "return": "退回"}
ACTION = {
    "ack": "签收",
    "resolve": "办结",
    "reopen": "重新打开",
    "request_escalation": "申请升级",
    "reassign": "转派",
    "close_duplicate": "重复关闭",
    "pause": "挂起",
    "resume": "恢复计时",
    "extend": "申请延期",
    "return": "退回",
    "approve": "批准",
    "deny": "不予批准",
}
ROLE = {"district": "区级调度", "street": "街道调度", "community": "社区调度", "read": "只读"}
PLACE = {UNLOCATED: "未定位（街道外）"}  # pseudo-communities; real ones are named by the geometry
# 12345 work orders (schemas/hotline.py)
CHANNEL = {"phone": "电话", "web": "网站", "app": "客户端"}
APPEAL_TYPE = {"consultation": "咨询", "help": "求助", "complaint": "投诉", "report": "举报", "suggestion": "建议"}
URGENCY = {"emergency": "紧急", "utilities": "水电气热", "ordinary": "一般", "complex": "疑难"}
ORDER_EVENT = {"contacted": "先行联系", "extended": "延期", "returned": "退单", "closed": "办结", "callback": "回访"}
SATISFACTION_ZH = {"satisfied": "满意", "basically_satisfied": "基本满意", "not_satisfied": "不满意"}
PLACED = {
    "location": "坐标",
    "address": "地址匹配",
    "grid": "平台指定网格",
    "community": "平台指定社区",
    "unlocated": "未定位",
}
CLOCK = {"contact": "先行联系时限", "resolve": "办结时限"}
# The three rates a street is ranked by each month, and what this project adds beside them.
RATE = {
    "response": "响应率",
    "resolution": "解决率",
    "satisfaction": "满意率",
    "composite": "综合得分",
    "on_time": "按时办结率",
}
# Tasks to a person (schemas/tasks.py)
TASK_KIND = {
    "register_resident": "生脸登记",
    "verify_report": "核实上报",
    "visit_courtyard": "入院走访",
    "other": "其他",
}
TASK_STATUS = {"open": "待接收", "accepted": "已接收", "arrived": "已到场", "done": "已完成", "cancelled": "已撤销"}
TASK_EVENT = {
    "created": "派发",
    "accepted": "接收",
    "arrived": "到场（定位确认）",
    "done": "完成",
    "cancelled": "撤销",
    "warned": "临期预警",
    "late": "超时",
    "refused": "未执行",
}
TASK_ACTION = {"create": "派发", "accept": "接收", "done": "完成", "cancel": "撤销", "assign": "按排班派给在岗人员"}
TASK_DEADLINE = {"arrive": "到场时限", "done": "完成时限"}

_DECLARED = (
    (CATEGORY, CATEGORIES),
    (SEVERITY, SEVERITIES),
    (LEVEL, LEVELS),
    (PRIORITY, PRIORITIES),
    (INCIDENT_STATUS, INCIDENT_STATUSES),
    (INCIDENT_EVENT, INCIDENT_EVENTS),
    (PATROL_STATUS, PATROL_STATUSES),
    (ALERT_KIND, ALERT_KINDS),
    (CHANNEL, CHANNELS),
    (APPEAL_TYPE, APPEAL_TYPES),
    (URGENCY, URGENCIES),
    (ORDER_EVENT, ORDER_EVENTS),
    (SATISFACTION_ZH, SATISFACTION),
    (PLACED, PLACED_BY),
    (CLOCK, CLOCKS),
    (PAUSE_REASON, PAUSE_REASONS),
    (REQUEST, REQUESTS),
    (ACTION, ACTIONS),
    (TASK_KIND, TASK_KINDS),
    (TASK_STATUS, TASK_STATUSES),
    (TASK_EVENT, TASK_EVENTS),
    (TASK_ACTION, TASK_ACTIONS),
    (TASK_DEADLINE, TASK_DEADLINES),
)
# A value added to a record without its Chinese name fails at import, not in front of a dispatcher.
for _names, _values in _DECLARED:
    assert set(_names) == set(_values), f"Chinese names out of step with the records: {set(_names) ^ set(_values)}"


def names() -> dict[str, dict[str, str]]:
    """Every table above, for the console's page."""
    return {
        "category": CATEGORY,
        "severity": SEVERITY,
        "level": LEVEL,
        "priority": PRIORITY,
        "incident_status": INCIDENT_STATUS,
        "incident_event": INCIDENT_EVENT,
        "patrol_status": PATROL_STATUS,
        "alert_kind": ALERT_KIND,
        "alert_status": ALERT_STATUS,
        "deadline": DEADLINE,
        "role": ROLE,
        "place": PLACE,
        "channel": CHANNEL,
        "appeal_type": APPEAL_TYPE,
        "urgency": URGENCY,
        "order_event": ORDER_EVENT,
        "satisfaction": SATISFACTION_ZH,
        "placed_by": PLACED,
        "clock": CLOCK,
        "rate": RATE,
        "pause_reason": PAUSE_REASON,
        "request": REQUEST,
        "action": ACTION,
        "task_kind": TASK_KIND,
        "task_status": TASK_STATUS,
        "task_event": TASK_EVENT,
        "task_deadline": TASK_DEADLINE,
    }


@cache
def zone(name: str) -> ZoneInfo:
    """The time zone called `name` (an IANA name such as Asia/Shanghai); ValueError naming it if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone name (IANA, e.g. Asia/Shanghai)") from None


def local_minute(when: datetime | str, tz: str) -> str:
    """`2026-12-06 14:22`: an instant as a person in the street reads it."""
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    return when.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M")


def work_span_zh(seconds: float, day_seconds: float) -> str:
    """Working time in words, to the minute, with days of `day_seconds`: `1工作日2工时`, `3工时20分`, `45分钟`
    (the console's workSpan says the same)."""
    minutes, per_day = int(abs(seconds) // 60), round(day_seconds / 60)
    days, rest = divmod(minutes, per_day)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}工作日{hours}工时" if hours else f"{days}工作日"
    if hours:
        return f"{hours}工时{minutes:02d}分"
    return f"{minutes}分钟"


def span_zh(seconds: float) -> str:
    """A duration in words, to the minute: `2小时05分`, `45分钟`, `3天4小时`."""
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{minutes:02d}分"
    return f"{minutes}分钟"
