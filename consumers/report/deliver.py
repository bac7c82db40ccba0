"""The announcement of a made weekly 专报: an Alert of kind `weekly_report` on redwall.alerts.v1, so the
routing tree (config/routing.toml) delivers it to receivers whose route matches that kind. Its id is the
same for a street's week whoever publishes it, so a second publication is never delivered twice."""

from __future__ import annotations

from datetime import datetime

from config.settings import Settings
from schemas import json
from schemas.display import ALERT_KIND
from schemas.records import Alert
from streams.produce import Out, producing, send_all

BODY_MAX = 4000  # Alert.body.zh's limit: a longer summary is cut, the link carries the rest


def alert_id(street: str, week: str) -> str:
    return f"report:weekly:{street}:{week}"


def report_link(settings: Settings, week: str, street: str | None = None) -> str:
    """Where a signed-in dispatcher reads the report: the console's file, under REDWALL_CONSOLE_URL when set;
    a district's street is named, as the console's reports API takes it."""
    link = f"{settings.console_url.rstrip('/')}/reports/{week}.html"
    return f"{link}?street={street}" if street else link


def report_alert(
    street: tuple[str, str], week: str, summary: str, link: str, now: datetime, *, level: str = "street"
) -> dict:
    """The Alert for the report of `week` of `street` (id, Chinese name; or the district's, `level`
    "district"): the street (or district) owns it, its body is the summary in markdown. Its time is when it
    is announced, not made: a report announced late (Kafka away that morning) is still news, and routing
    pages nobody for an event older than its max_age."""
    street_id, name = street
    body = summary if len(summary) <= BODY_MAX else summary[: BODY_MAX - 1] + "…"
    return Alert.validate(
        {
            "id": alert_id(street_id, week),
            "kind": "weekly_report",
            "status": "firing",
            "level": level,
            "owner": street_id,
            "street": street_id,
            "severity": "low",
            "priority": "normal",
            "title": {
                "zh": f"{ALERT_KIND['weekly_report']}：{name} {week}",
                "en": f"Weekly report {week}: {street_id}",
            },
            "body": {"zh": body, "en": f"The weekly report of {week} is ready: {link}"},
            "link": link,
            "event_time": now.isoformat(),
            "created_at": now.isoformat(),
        }
    )


async def publish(settings: Settings, kafka: dict, alert: dict) -> None:
    """Put the alert on the alerts topic, keyed by its street; returns once the broker holds it."""
    async with producing(kafka) as producer:
        await send_all(producer, [Out(settings.topic_alerts, alert["street"].encode(), json.dumps(alert))])
