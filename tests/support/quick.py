"""Kafka waits cut short for tests whose processes start, die and rejoin on the embedded broker.

Tansu holds a consumer group's join for about half the session, and a killed member's partitions
for all of it (KAFKA-NOTES.md); a read of a whole topic ends only after it has stayed idle. With
the defaults (6 s, 1 s) a test that restarts a process spends most of its time in these waits.
A 3 s session still gives a member six heartbeats before it is dropped."""

from __future__ import annotations

QUICK_KAFKA = {"kafka_session_seconds": 3.0, "kafka_idle_seconds": 0.3}
# Not for tests/faults/: their time is the scenario's own (load, outage, catch-up); measured, these
# waits saved nothing there, and the worker-kill cases are defined against the default session.
