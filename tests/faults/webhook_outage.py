"""The webhook-outage scenario, run in a thread of its own (own event loop) so its two minutes overlap
the other fault tests: a real `redwall deliver` with three channels, one endpoint healthy, and one
endpoint down for OUTAGE seconds behind two channels, one with the most attempts allowed and one that
gives up after 3."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import threading
import time
import uuid
from pathlib import Path

import asyncpg

from config.settings import Settings
from schemas import json
from streams.demo.embedded import free_port
from streams.demo.processes import RedwallProcess
from streams.topics import ensure_topics, read_topic
from tests.faults.routing_file import routing
from tests.support.delivery import publish
from tests.support.factories import alert
from tests.support.receiver import ids_in, start_receiver

OUTAGE = 120.0
ALERTS = 12
WARM_SECONDS = 30.0  # for the healthy channel's first alert: group joins and start-up
SPACING = 10.0  # seconds between alerts, so they keep coming while the endpoint is down
# The most a channel may have (routing.toml allows 1..20): with backoff capped at 10 s, about a minute
# of retries, so the alerts of the outage's first minute are dead-lettered, the later ones delivered.
ATTEMPTS = {"healthy": 6, "patient": 20, "impatient": 3}


@dataclasses.dataclass
class Outcome:
    published: dict[str, float] = dataclasses.field(default_factory=dict)  # alert id -> time.time()
    healthy: list = dataclasses.field(default_factory=list)  # (alert id, arrival) the healthy endpoint took
    patient: list = dataclasses.field(default_factory=list)  # (alert id, arrival) the returned endpoint took
    returned_at: float = 0.0
    deliveries: list = dataclasses.field(default_factory=list)  # alert_deliveries rows of this run
    letters: list = dataclasses.field(default_factory=list)  # the alerts' dead-letter topic
    error: BaseException | None = None


class WebhookOutage:
    def __init__(self, settings: Settings, log_dir: Path):
        run = uuid.uuid4().hex[:6]
        self.run = run
        self.settings = dataclasses.replace(
            settings,
            topic_alerts=f"{run}.alerts",
            topic_alerts_deadletter=f"{run}.alerts-dead",
            topic_incidents=f"{run}.incidents",
            deliver_metrics_port=free_port(),
            webhook_secret=f"secret-{run}",
            routing_path=Path(log_dir) / "routing.toml",
        )
        self.deliver = RedwallProcess("deliver", self.settings, log_dir)
        self.outcome = Outcome()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._main, name="webhook-outage", daemon=True)

    def start(self) -> WebhookOutage:
        self.thread.start()
        return self

    def result(self, timeout: float) -> Outcome:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the webhook-outage scenario did not finish"
        if self.outcome.error is not None:
            raise self.outcome.error
        return self.outcome

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        self.deliver.stop()

    def _main(self) -> None:
        try:
            asyncio.run(self._scenario())
        except BaseException as exc:
            self.outcome.error = exc

    async def _scenario(self) -> None:
        s, out = self.settings, self.outcome
        await ensure_topics(s, (s.topic_alerts, s.topic_alerts_deadletter, s.topic_incidents))
        healthy, healthy_runner = await start_receiver(s.webhook_secret)
        down = free_port()  # nobody listens there for OUTAGE seconds: connections are refused
        s.routing_path.write_text(
            routing(
                {
                    "healthy": healthy.url("/json/healthy"),
                    "patient": f"http://127.0.0.1:{down}/json/patient",
                    "impatient": f"http://127.0.0.1:{down}/json/impatient",
                },
                ATTEMPTS,
            )
        )
        self.deliver.start()
        await asyncio.to_thread(self.deliver.wait_http, f"http://127.0.0.1:{s.deliver_metrics_port}/metrics")
        try:
            # Once the healthy channel takes a first alert, its consumers have joined their groups.
            await publish(s, [alert(f"warm-{self.run}", incident=f"inc-warm-{self.run}")])
            warm_until = time.monotonic() + WARM_SECONDS
            while not healthy.delivered():
                if await self._sleep(0.1) or time.monotonic() > warm_until:
                    raise RuntimeError(
                        f"the healthy channel took no alert within {WARM_SECONDS} s:\n{self.deliver.log_tail()}"
                    )
            started = time.time()
            for i in range(ALERTS):
                a = alert(f"wh-{self.run}-{i:02d}", incident=f"inc-wh-{self.run}-{i:02d}")
                out.published[a["id"]] = time.time()
                await publish(s, [a])
                if await self._sleep(SPACING):
                    return
            if await self._sleep(started + OUTAGE - time.time()):
                return
            returned, returned_runner = await start_receiver(s.webhook_secret, port=down)
            out.returned_at = time.time()
            try:
                await self._until_settled(returned)
            finally:
                await returned_runner.cleanup()
            out.patient = [(i, m.arrived) for m in returned.delivered() for i in ids_in(m) if i in out.published]
            out.healthy = [(i, m.arrived) for m in healthy.delivered() for i in ids_in(m) if i in out.published]
        finally:
            await healthy_runner.cleanup()
            self.deliver.stop()
        out.letters = [
            letter
            for letter in [json.loads(r.value) async for r in read_topic(s, s.topic_alerts_deadletter)]
            if base64.b64decode(letter["key_b64"]) in (b"patient", b"impatient")
            and json.loads(base64.b64decode(letter["value_b64"]))["id"] in out.published
        ]

    async def _until_settled(self, returned, limit: float = 60.0) -> None:
        """Until the patient channel delivered every alert and the impatient one dead-lettered every one."""
        conn = await asyncpg.connect(self.settings.database_url)
        try:
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline and not self.stop.is_set():
                rows = await conn.fetch(
                    "SELECT alert_id, channel, attempt, outcome, attempted_at FROM alert_deliveries "
                    "WHERE alert_id LIKE $1",
                    f"wh-{self.run}-%",
                )
                finals = {(r["alert_id"], r["channel"]) for r in rows if r["outcome"] in ("delivered", "dead_lettered")}
                self.outcome.deliveries = rows
                if len(finals) == 3 * ALERTS:
                    return
                await asyncio.sleep(0.5)
        finally:
            await conn.close()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep while the receivers on this loop keep answering; True when the scenario is stopped."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return self.stop.is_set()
