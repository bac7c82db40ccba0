"""Faust's aiokafka consumer, changed so that it commits only offsets an agent has handled.

Faust marks as done a message it skips during a rebalance (flow suspended, or fetched under an
older group generation), and treats offsets it never received as a "gap" to be committed. Either
can move a commit past a record no agent saw: a worker restarted under load lost ping batches that
way in the pipeline test. Refusing both costs at most a re-delivery, which the sinks absorb.
"""

from __future__ import annotations

from faust.transport.drivers.aiokafka import Consumer


class HandledOnlyConsumer(Consumer):
    def ack(self, message) -> bool:
        app = self.app
        if message.generation_id != app.consumer_generation_id or not app.flow_control.is_active():
            self._unacked_messages.discard(message)  # so a rebalance never waits on it
            return False  # left uncommitted: fetched again after the seek to committed offsets
        return super().ack(message)

    async def _add_gap(self, tp, offset_from: int, offset_to: int) -> None:
        return None  # an offset never received is never committed; a true gap only stalls commits
