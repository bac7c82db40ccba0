"""Webhook channels, one small class per format behind the same `send(notification) -> Attempt`:
generic JSON signed with HMAC-SHA256, WeCom group robot markdown (企业微信), DingTalk robot markdown."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote_plus

import aiohttp

from config.routing import Channel
from schemas import json
from schemas.display import ALERT_STATUS, LEVEL, PLACE, PRIORITY, SEVERITY, local_minute
from schemas.records import NOTICE_KINDS
from sinks.notification import Notification

SIGNATURE_HEADER = "X-Redwall-Signature"
TIMESTAMP_HEADER = "X-Redwall-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
WECOM_MAX_BYTES = 4096  # the robot refuses longer markdown


@dataclass(frozen=True)
class Attempt:
    """What one request came to."""

    outcome: str  # delivered | failed | timeout
    latency: float  # seconds
    status: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "delivered"


class Webhook:
    """POSTs one notification; subclasses say how the body, URL and headers look and what counts as taken."""

    def __init__(self, channel: Channel, secret: str, session: aiohttp.ClientSession, tz: str):
        self.channel, self.secret, self.session, self.tz = channel, secret, session, tz

    def request(self, notification: Notification) -> tuple[str, bytes, dict[str, str]]:
        raise NotImplementedError

    def refusal(self, status: int, payload: bytes) -> str | None:
        """Why the endpoint did not take it, or None when it did."""
        return None if 200 <= status < 300 else f"HTTP {status}: {payload[:200].decode(errors='replace')}"

    async def send(self, notification: Notification) -> Attempt:
        url, body, headers = self.request(notification)
        headers = {**headers, IDEMPOTENCY_HEADER: notification.key, "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            async with self.session.post(
                url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=self.channel.timeout)
            ) as response:
                payload = await response.read()
        except TimeoutError:
            return Attempt("timeout", time.perf_counter() - started, None, f"no answer within {self.channel.timeout} s")
        except aiohttp.ClientError as exc:
            return Attempt("failed", time.perf_counter() - started, None, f"{type(exc).__name__}: {exc}")
        error = self.refusal(response.status, payload)
        return Attempt("failed" if error else "delivered", time.perf_counter() - started, response.status, error)


class JsonWebhook(Webhook):
    """The alerts as JSON; the signature covers `timestamp.body`, so a replayed body with a new time fails."""

    def request(self, notification):
        body = json.dumps(
            {
                "key": notification.key,
                "channel": notification.channel,
                "reminder": notification.reminder,
                "status": "resolved" if notification.clearance else "firing",
                "alerts": [{**alert, "seq": seq} for alert, seq in notification.items],
            }
        )
        stamp = str(int(time.time()))
        return self.channel.url, body, {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign_json(self.secret, stamp, body)}


class _RobotWebhook(Webhook):
    def refusal(self, status, payload):
        error = super().refusal(status, payload)
        if error:
            return error
        try:
            answer = json.loads(payload)
        except json.JSONDecodeError:
            return f"HTTP {status} with a body that is not JSON: {payload[:200]!r}"
        # Both robots answer 200 with errcode != 0 when they refuse (bad key, rate limit, too long).
        code = answer.get("errcode") if isinstance(answer, dict) else None
        return None if code == 0 else f"errcode {code}: {answer.get('errmsg') if isinstance(answer, dict) else answer}"


class WeComWebhook(_RobotWebhook):
    def request(self, notification):
        content = markdown(notification, self.tz)
        while len(content.encode()) > WECOM_MAX_BYTES:
            content = content[: len(content) * 9 // 10] + "\n…"
        return self.channel.url, json.dumps({"msgtype": "markdown", "markdown": {"content": content}}), {}


class DingTalkWebhook(_RobotWebhook):
    """DingTalk's 加签: timestamp (ms) and sign = base64(HMAC-SHA256(secret, "timestamp\\nsecret")) in the URL."""

    def request(self, notification):
        stamp = str(int(time.time() * 1000))
        separator = "&" if "?" in self.channel.url else "?"
        url = f"{self.channel.url}{separator}timestamp={stamp}&sign={quote_plus(sign_dingtalk(self.secret, stamp))}"
        first = notification.alerts[0]
        title = (CLEARED if first["status"] == "resolved" else "") + first["title"]["zh"]
        body = json.dumps(
            {"msgtype": "markdown", "markdown": {"title": title, "text": markdown(notification, self.tz)}}
        )
        return url, body, {}


FORMATS: dict[str, type[Webhook]] = {"json": JsonWebhook, "wecom": WeComWebhook, "dingtalk": DingTalkWebhook}


def webhook(channel: Channel, secret: str, session: aiohttp.ClientSession, tz: str) -> Webhook:
    """The channel's sender; `tz` is the street's time zone, in which people read the times."""
    return FORMATS[channel.type](channel, secret, session, tz)


def sign_json(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_json(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """For receivers: whether the signature header is ours for this body and timestamp."""
    return hmac.compare_digest(sign_json(secret, timestamp, body), signature)


def sign_dingtalk(secret: str, timestamp_ms: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


CLEARED = f"【{ALERT_STATUS['resolved']}】"


def markdown(notification: Notification, tz: str) -> str:
    """Chinese first, English after; one block per alert, its time in the street's zone to the minute,
    its link when it has one. A clearance says 【已解除】 first."""
    heading = (
        f"【{ALERT_STATUS['resolved']} Resolved】"
        if notification.clearance
        else "【提醒 Reminder】"
        if notification.reminder
        else "【通知 Notice】"
        if all(alert["kind"] in NOTICE_KINDS for alert in notification.alerts)
        else "【告警 Alert】"
    )
    blocks = [f"### {heading} {len(notification.items)}"]
    blocks.extend(_block(alert, tz) for alert in notification.alerts)
    return "\n\n".join(blocks)


def _block(alert: dict, tz: str) -> str:
    link = f"\n> [查看 Open]({alert['link']})" if alert.get("link") else ""
    if alert["kind"] in NOTICE_KINDS:
        # Its body is markdown of its own (a report's summary), after the link and id: a robot's
        # length limit cuts the summary, never the link.
        return (
            f"**{alert['title']['zh']}**\n{alert['title']['en']}{link}\n> `{alert['id']}`\n\n"
            f"{alert['body']['zh']}\n\n{alert['body']['en']}"
        )
    where = " · ".join(PLACE.get(x, x) for x in (alert.get("community"), alert.get("grid")) if x)
    zh, en = (CLEARED, "[Resolved] ") if alert["status"] == "resolved" else ("", "")
    return (
        f"**{zh}{alert['title']['zh']}**\n{en}{alert['title']['en']}\n"
        f"> 级别 {LEVEL[alert['level']]} · {where} · 严重程度 {SEVERITY[alert['severity']]} · "
        f"优先级 {PRIORITY[alert['priority']]} · {local_minute(alert['event_time'], tz)}\n"
        f"> {alert['body']['zh']}\n> {alert['body']['en']}{link}\n> `{alert['id']}`"
    )
