"""The weekly report's schedule tests: the session's services on alert topics of the test's own."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from streams.topics import ensure_topics

RUN = uuid.uuid4().hex[:8]


@pytest.fixture
async def own(settings):
    """The session's settings on alert topics of the test's own, reports due Monday 08:00."""
    name = uuid.uuid4().hex[:8]
    own = dataclasses.replace(settings, topic_alerts=f"weekly-{RUN}-{name}", report_at="Mon 08:00")
    await ensure_topics(own, (own.topic_alerts,))
    return own
