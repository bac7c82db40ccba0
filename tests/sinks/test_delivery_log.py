"""The delivery log is a writer of its own on its own pool, not a sink of reports and positions."""

from __future__ import annotations

from sinks.delivery_log import DeliveryLog
from sinks.postgres import PostgresSink


def test_the_delivery_log_is_no_position_sink():
    # The deliver role may touch neither `positions` nor temporary tables (sinks/grants.py): a writer
    # that inherited write_positions would hold methods its role must never run.
    assert not issubclass(DeliveryLog, PostgresSink)
    assert not [name for name in dir(DeliveryLog) if name.startswith("write_")]
