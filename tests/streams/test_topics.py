"""Reading a topic to its end on the session's Tansu: a quiet spell before the end offsets are reached is a
slow fetch, not the end, so a reader with a tiny idle window still gets every record. Talking to a broker
that is still starting: what it says will pass is waited out, anything else is raised at once."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import LeaderNotAvailableError, NodeNotReadyError, UnknownError

from streams.topics import ensure_topics, read_topic, with_admin
from tests.support.topics import own_topics

pytestmark = pytest.mark.integration

RECORDS = 40


async def test_a_reader_whose_idle_window_passes_before_the_first_fetch_still_reads_to_the_end(settings):
    s = dataclasses.replace(settings, **own_topics(settings, f"read-{uuid.uuid4().hex[:8]}"))
    await ensure_topics(s)
    producer = AIOKafkaProducer(bootstrap_servers=s.broker)
    await producer.start()
    try:
        for i in range(RECORDS):  # one batch each: Tansu's end offset is then exact
            await producer.send_and_wait(s.topic_incidents, str(i).encode(), key=b"k", partition=0)
    finally:
        await producer.stop()
    # 1 ms: every first fetch takes longer than that, so a reader that stopped at the first quiet spell got nothing.
    got = [int(r.value) async for r in read_topic(s, s.topic_incidents, idle_seconds=0.001, partitions=[0])]
    assert got == list(range(RECORDS))


async def test_a_broker_that_says_not_ready_is_asked_again_on_a_new_client_and_other_errors_are_raised(settings):
    # A broker busy starting accepts the connection and then answers "node not ready" or "no leader" for a
    # while: the sink once exited at start-up on that, from ensure_topics.
    s = dataclasses.replace(settings, connect_timeout_seconds=30.0)
    clients, answers = [], [NodeNotReadyError("starting"), LeaderNotAvailableError("electing")]

    async def work(admin):
        clients.append(admin)
        if answers:
            raise answers.pop(0)
        return sorted(await admin.list_topics())

    await ensure_topics(s)
    topics = await with_admin(s, work)
    assert s.topic_reports in topics and len(clients) == 3 and len(set(map(id, clients))) == 3

    async def refused(admin):
        clients.append(admin)
        raise UnknownError("not something time cures")

    with pytest.raises(UnknownError):
        await with_admin(s, refused)
    assert len(clients) == 4
