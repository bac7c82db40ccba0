"""The weekly report's schedule tests: the session's services on alert topics of the test's own."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from streams.topics import ensure_topics

RUN = uuid.uuid4().hex[:8]


@pytest.fixture
async def own(settings):
    """The session's settings on alert topics of the test's own, reports due Monday 08:00, no week caught up:
    the session's street holds the other tests' weeks, years apart, whose gaps a test would otherwise fill
    (the catch-up tests take a database of their own)."""
    name = uuid.uuid4().hex[:8]
    own = dataclasses.replace(
        settings, topic_alerts=f"weekly-{RUN}-{name}", report_at="Mon 08:00", report_catch_up_weeks=0
    )
    await ensure_topics(own, (own.topic_alerts,))
    return own
