"""The weekly 专报 through the shipped routing tree to a real HTTP receiver: the Monday job makes and
announces it (real PostgreSQL and broker; a maker of fixed bytes stands in for the renderer), the delivery
consumers route its alert: the WeCom and DingTalk robots get the markdown summary with the link, the generic
webhook the link. Announced again and delivered by a restarted delivery process, it is still taken once."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import UTC, datetime

import pytest

from config.routing import load_routing
from config.settings import SAMPLE_ROUTING
from consumers.report.deliver import publish
from streams.demo.inbox import routing_for_inbox
from streams.topics import client_options, ensure_topics
from tests.support.clock import ManualClock
from tests.support.delivery import deliver_until
from tests.support.receiver import start_receiver
from tests.support.topics import own_topics
from tests.support.weekly_schedule import SUMMARY, FixedMaker, alerts_on, scheduler

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
CONSOLE = "https://console.redwall.example.cn"
CHANNELS = ("command-centre", "street-duty", "community-staff")


async def test_the_weekly_report_reaches_the_robots_with_its_summary_and_link_and_the_webhook_with_the_link(
    settings, tmp_path, pg
):
    settings = dataclasses.replace(
        settings,
        **own_topics(settings, f"weekly-{RUN}"),
        webhook_secret=f"weekly-{RUN}",
        console_url=CONSOLE + "/",
        report_at="Mon 00:00",  # the week just ended is due whatever the hour: at 08:00 it was not till then
        routing_path=tmp_path / "routing.toml",
    )
    await ensure_topics(settings, (settings.topic_alerts, settings.topic_alerts_deadletter, settings.topic_incidents))
    receiver, runner = await start_receiver(settings.webhook_secret)
    # The shipped tree, its channels pointed at the receiver; quiet hours off, so the test passes at night too.
    text = routing_for_inbox(SAMPLE_ROUTING, f"http://127.0.0.1:{receiver.port}")
    settings.routing_path.write_text(text.replace('quiet_hours = { start = "22:00", end = "07:00" }', ""))
    routing = load_routing(settings.routing_path)
    schedule = await scheduler(settings, FixedMaker(), ManualClock(datetime.now(UTC)))
    try:
        week = await schedule.look()
        assert week is not None
        link = f"{CONSOLE}/reports/{week}.html"
        [announced] = await alerts_on(settings, wait=1.0)

        async def each_channel_took_it() -> bool:
            return {r.path.rsplit("/", 1)[1] for r in receiver.delivered()} == set(CHANNELS)

        await deliver_until(settings, routing, each_channel_took_it, group_prefix=f"weekly-{RUN}")
        # A sink that stopped before marking it announced publishes it again; the delivery process restarts.
        await publish(settings, client_options(settings), announced)
        await deliver_until(settings, routing, _after(2.0), group_prefix=f"weekly-{RUN}")
        await deliver_until(settings, routing, _after(2.0), group_prefix=f"weekly-{RUN}-again")
    finally:
        await schedule.pool.close()
        await runner.cleanup()

    taken = {r.path.rsplit("/", 1)[1]: r for r in receiver.delivered()}
    assert sorted(r.path.rsplit("/", 1)[1] for r in receiver.delivered()) == sorted(CHANNELS)  # once each
    wecom = taken["command-centre"].body["markdown"]["content"]
    dingtalk = taken["street-duty"].body["markdown"]["text"]
    for markdown in (wecom, dingtalk):
        assert f"[查看 Open]({link})" in markdown and SUMMARY in markdown and "每周专报：" in markdown
        assert f"`{announced['id']}`" in markdown
    [alert] = taken["community-staff"].body["alerts"]
    assert (alert["link"], alert["kind"], alert["id"]) == (link, "weekly_report", announced["id"])


def _after(seconds: float):
    """A check that holds once `seconds` have passed since it was made: time for a second delivery to arrive."""
    started = time.monotonic()

    async def done() -> bool:
        return time.monotonic() - started >= seconds

    return done
