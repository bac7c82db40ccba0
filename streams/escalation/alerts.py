"""Alert records for incident transitions, with their Chinese and English text; ids are derived from
the transition, so a redelivered transition yields the same alert id and consumers drop the copy.
The Chinese is Chinese throughout, with times in the street's zone to the minute (`tz`); the English
keeps RFC 3339."""

from __future__ import annotations

from datetime import datetime

from schemas.display import ALERT_KIND, CATEGORY, LEVEL, local_minute
from streams.escalation.reasons import place_zh, why_en

_TITLES_EN = {
    "incident_opened": "New incident: {cat} ({level})",
    "incident_escalated": "Incident escalated to {level}: {cat}",
    "deadline_breached": "Deadline missed: {cat}",
    "incident_reopened": "Incident reopened: {cat}",
    "ceiling_exceeded": "Escalated beyond the street (exception): {cat}",
    "incident_assigned": "Incident reassigned: {cat}",
    "deadline_warning": "Deadline near: {cat}",
    "approval_requested": "Waiting for the street's approval: {cat}",
}


def alert_for(event: dict, kind: str, level: str, owner: str, source_time: datetime, now: datetime, tz: str) -> dict:
    """The Alert record telling `owner` (at `level`) about one incident event."""
    state, category = event["state"], event["category"]
    alert = {
        "id": f"{event['id']}:{kind}",
        "kind": kind,
        "status": "firing",
        "level": level,
        "owner": owner,
        "street": event["street"],
        "community": event["community"],
        "incident": event["incident"],
        "category": category,
        "severity": event["severity"],
        "priority": state["priority"],
        "title": {
            "zh": f"{ALERT_KIND[kind]}：{CATEGORY[category]}（{LEVEL[level]}）",
            "en": _TITLES_EN[kind].format(cat=category, level=level),
        },
        "body": {"zh": _body_zh(event, state, tz), "en": _body_en(event, state)},
        "event_time": source_time.isoformat(),
        "created_at": now.isoformat(),
    }
    if event.get("grid"):
        alert["grid"] = event["grid"]
    return alert


def _waiting(state: dict) -> bool:
    """Still to be acknowledged, by a deadline not yet missed."""
    return bool(state.get("ack_by")) and state["status"] == "assigned" and "acknowledge" not in state.get("missed", {})


def _body_zh(event: dict, state: dict, tz: str) -> str:
    due = f"，请于 {local_minute(state['ack_by'], tz)} 前签收" if _waiting(state) else ""
    where = place_zh(event["community"]) + (f" 网格 {event['grid']}" if event.get("grid") else "")
    return (
        f"事件 {event['incident']}（{where}，{LEVEL[state['level']]}负责，责任方 {state['owner']}，"
        f"已汇聚 {int(state['reports'])} 条上报）。原因：{event['reason']}{due}。"
    )


def _body_en(event: dict, state: dict) -> str:
    due = f"; acknowledge by {state['ack_by']}" if _waiting(state) else ""
    return (
        f"Incident {event['incident']} ({state['level']} level, owner {state['owner']}, "
        f"{int(state['reports'])} report(s)). Why: {why_en(event)}{due}."
    )
