"""What one channel is sent: a Notification, the unit of delivery. The routing engine (consumers/routing.py)
makes it; the webhook channels (sinks/webhook.py) send it and the delivery log (sinks/delivery_log.py)
records it, under its idempotency key. A record of the floor where events land, not a topic's record:
it never travels on Kafka, so it is not in schemas/."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Notification:
    """One message to one channel: the alerts of one group, each with its sequence number
    (0 for the first notice of that alert on this channel, n for its n-th reminder)."""

    channel: str
    route: str
    group: tuple[tuple[str, str | None], ...]
    items: tuple[tuple[dict, int], ...]

    @property
    def alerts(self) -> list[dict]:
        return [alert for alert, _ in self.items]

    @property
    def reminder(self) -> bool:
        return any(seq > 0 for _, seq in self.items)

    @property
    def clearance(self) -> bool:
        """Every alert of it is resolved: it says what ended."""
        return all(alert["status"] == "resolved" for alert, _ in self.items)

    @property
    def key(self) -> str:
        """The idempotency key: the same alerts at the same sequence to the same channel, the same key."""
        parts = sorted(f"{alert['id']}#{seq}" for alert, seq in self.items)
        return hashlib.sha256("\n".join([self.channel, *parts]).encode()).hexdigest()[:32]
