"""Faust's aiokafka consumer, changed so that a commit never passes a record no agent handled.

As shipped, Faust can commit past a record nobody handled, and restarted workers lost records that way
under load:
- it acknowledges a message it skips during a rebalance (flow suspended, or an older generation), and
  a batch whose handling raised (`take_events` acknowledges in a `finally`; see `handling`);
- it commits offsets it never received ("gaps"), and its head check lets a commit start one record
  past the committed offset;
- its seek to the committed offsets does nothing for a partition with no commit yet (aiokafka seeks
  only to offsets above 0), so a record fetched before the seek and then skipped is never fetched
  again;
- it drops a re-fetched record as "already read" when a fetch still in flight during the seek moved
  its read offset past it.

Here a commit is an unbroken run of handled offsets starting at the partition's head (the committed
offset, or the earliest one before any commit); every re-fetched record is delivered again; and a
partition whose head record stays unhandled while later ones are handled is fetched again from its
head. Each costs at most a re-delivery, which the sinks and the escalation engine absorb by id.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
import weakref

from faust.transport.drivers.aiokafka import Consumer
from faust.utils.functional import consecutive_numbers

from streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)

# How long a partition's head record may stay unhandled while later records are handled before the
# partition is fetched again from it. A re-delivered head normally arrives within a batch or two.
HEAD_GRACE_SECONDS = 10.0


class HandledOnlyConsumer(Consumer):
    metrics: WorkerMetrics  # set by `counting`, the way to get this consumer

    @classmethod
    def counting(cls, metrics) -> type:
        """This consumer, counting what it leaves uncommitted and the partitions it rewinds in `metrics`."""
        return type(cls.__name__, (cls,), {"metrics": metrics})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._refused = weakref.WeakSet()  # messages of batches whose handling raised
        self._head_missing_since: dict = {}
        self._rewinds: dict = {}  # tp -> the task fetching it again from its head

    def refuse(self, messages) -> None:
        """These messages were not handled: their acknowledgement, when Faust makes it, is ignored."""
        self._refused.update(messages)

    def ack(self, message) -> bool:
        app = self.app
        skipped = message.generation_id != app.consumer_generation_id or not app.flow_control.is_active()
        if skipped or message in self._refused:
            self._refused.discard(message)
            self.metrics.uncommitted.labels(message.topic, "rebalance" if skipped else "failed").inc()
            self._unacked_messages.discard(message)  # so a rebalance never waits on it
            log.debug(
                "not acknowledging %s[%d]@%d: %s",
                message.topic,
                message.partition,
                message.offset,
                f"skipped (generation {message.generation_id} of {app.consumer_generation_id}, flow "
                f"{'active' if app.flow_control.is_active() else 'suspended'})"
                if skipped
                else "its batch was not handled",
            )
            return False  # left uncommitted: fetched again, after the next seek or from the head
        if super().ack(message):
            return True
        self._unacked_messages.discard(message)  # a copy of a record a commit already passed
        return False

    async def _add_gap(self, tp, offset_from: int, offset_to: int) -> None:
        return None  # an offset never received is never committed

    async def perform_seek(self) -> None:
        await super().perform_seek()
        # No commit yet: aiokafka did not seek, so start from the earliest offset, as the reset policy did.
        fresh = [tp for tp in self.assignment() if not self._committed_offset.get(tp) and not self._is_changelog_tp(tp)]
        if fresh:
            earliest = await self.earliest_offsets(*fresh)
            for tp in fresh:
                await self.seek(tp, earliest[tp])
                self._committed_offset[tp] = earliest[tp]
        log.debug("generation %s starts from %s", self.app.consumer_generation_id, _by_tp(self._committed_offset))

    def _new_offset(self, tp):
        acked = self._acked[tp]
        head = self._committed_offset.get(tp)
        if not acked or head is None:
            return None  # before the seek the head is unknown: nothing is committed
        acked.sort()
        covered = bisect.bisect_left(acked, head)  # handled again after a commit already passed them
        if covered:
            self._acked_index[tp].difference_update(acked[:covered])
            del acked[:covered]
        if not acked:
            return None
        if acked[0] != head:
            self._head_unhandled(tp, head)
            return None
        self._head_missing_since.pop(tp, None)
        run = next(consecutive_numbers(acked))
        del acked[: len(run)]
        self._acked_index[tp].difference_update(run)
        return run[-1] + 1

    def _head_unhandled(self, tp, head: int) -> None:
        now = time.monotonic()
        since = self._head_missing_since.setdefault(tp, now)
        if now - since < HEAD_GRACE_SECONDS or tp in self._rewinds:
            return
        if any(m.tp == tp and m.offset == head for m in self._unacked_messages):
            return  # an agent holds it now
        log.warning(
            "%s[%d]: record %d still unhandled %.0f s after later ones were; fetching again from it",
            tp.topic,
            tp.partition,
            head,
            now - since,
        )
        self.metrics.rewinds.labels(tp.topic).inc()
        self._rewinds[tp] = asyncio.ensure_future(self._rewind(tp, head))

    async def _rewind(self, tp, head: int) -> None:
        try:
            if tp in self.assignment():
                await self.seek(tp, head)
        except Exception as exc:  # the partition moved on in a rebalance: its next owner seeks anyway
            log.warning("%s[%d]: could not fetch again from %d: %r", tp.topic, tp.partition, head, exc)
        finally:
            self._rewinds.pop(tp, None)
            self._head_missing_since.pop(tp, None)

    async def _commit_offsets(self, offsets, start_new_transaction: bool = True) -> bool:
        log.debug("generation %s commits %s", self.app.consumer_generation_id, _by_tp(offsets))
        return await super()._commit_offsets(offsets, start_new_transaction=start_new_transaction)

    def getmany(self, timeout: float):
        return _delivered_again(super().getmany(timeout), self._read_offset)


async def _delivered_again(messages, read_offset):
    """Lower the read offset to a re-fetched record, which Faust would otherwise drop as read."""
    async for tp, message in messages:
        read = read_offset.get(tp)
        if read is not None and message.offset < read:
            log.debug(
                "%s[%d]@%d fetched again below read offset %d: delivered", tp.topic, tp.partition, message.offset, read
            )
            read_offset[tp] = message.offset
        yield tp, message


@contextlib.contextmanager
def handling(app, events):
    """Around the body of a `take_events` loop: if the body raises or is cancelled, the batch is not
    acknowledged (Faust would in its `finally`), so it is fetched again instead of committed."""
    try:
        yield
    except BaseException:
        app.consumer.refuse(e.message for e in events)
        raise


def _by_tp(offsets) -> dict:
    return {f"{tp.topic}[{tp.partition}]": offset for tp, offset in offsets.items()}
