"""Alert records for incident transitions, with their Chinese and English text; ids are derived from
the transition, so a redelivered transition yields the same alert id and consumers drop the copy."""

from __future__ import annotations

from datetime import datetime

from schemas.display import CATEGORY as CATEGORY_ZH, LEVEL as LEVEL_ZH

# kind -> (Chinese title, English title); {cat}/{level} are filled in.
_TITLES = {
    "incident_opened": ("新事件：{cat_zh}（{level_zh}）", "New incident: {cat} ({level})"),
    "incident_escalated": ("事件升级至{level_zh}：{cat_zh}", "Incident escalated to {level}: {cat}"),
    "deadline_breached": ("超时督办：{cat_zh}", "Deadline missed: {cat}"),
    "incident_reopened": ("事件重新打开：{cat_zh}", "Incident reopened: {cat}"),
    "ceiling_exceeded": ("越过街道上报（例外）：{cat_zh}", "Escalated beyond the street (exception): {cat}"),
    "incident_assigned": ("事件转派：{cat_zh}", "Incident reassigned: {cat}"),
}


def alert_for(event: dict, kind: str, level: str, owner: str, source_time: datetime, now: datetime) -> dict:
    """The Alert record telling `owner` (at `level`) about one incident event."""
    state = event["state"]
    words = {"cat": event["category"], "cat_zh": CATEGORY_ZH[event["category"]], "level": level,
             "level_zh": LEVEL_ZH[level]}
    zh, en = (t.format(**words) for t in _TITLES[kind])
    alert = {
        "id": f"{event['id']}:{kind}",
        "kind": kind,
        "status": "firing",
        "level": level,
        "owner": owner,
        "street": event["street"],
        "community": event["community"],
        "incident": event["incident"],
        "category": event["category"],
        "severity": event["severity"],
        "priority": state["priority"],
        "title": {"zh": zh, "en": en},
        "body": {"zh": _body_zh(event, state), "en": _body_en(event, state)},
        "event_time": source_time.isoformat(),
        "created_at": now.isoformat(),
    }
    if event.get("grid"):
        alert["grid"] = event["grid"]
    return alert


def _body_zh(event: dict, state: dict) -> str:
    due = f"，请于 {state['ack_by']} 前签收" if state.get("ack_by") and state["status"] == "assigned" else ""
    return (f"事件 {event['incident']}（{LEVEL_ZH[state['level']]}，责任方 {state['owner']}，"
            f"已汇聚 {int(state['reports'])} 条上报）。原因：{event['reason']}{due}。")


def _body_en(event: dict, state: dict) -> str:
    due = f"; acknowledge by {state['ack_by']}" if state.get("ack_by") and state["status"] == "assigned" else ""
    return (f"Incident {event['incident']} ({state['level']} level, owner {state['owner']}, "
            f"{int(state['reports'])} report(s)). Why: {event['reason']}{due}.")
