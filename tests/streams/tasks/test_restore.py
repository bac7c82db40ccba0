"""A book restored from each task's last event is the book that wrote it (hypothesis): over any sequence of
actions, fix batches and ticks, a second book restored at any point from the newest event of each task
answers every later step exactly as the first does: the same deadlines, warnings, lates, arrivals,
refusals and alerts. The fixes of one visit come in one batch, as a phone uploads them: the run of inside
fixes lives in memory only, and a restored book starts it again (streams/tasks/arrival.py)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.streams.tasks.book_factories import COURTYARD, batch, bj, book, checked, create, fix, stay, step

START = bj("2026-12-04 15:00")  # a Friday afternoon: the working-time limits cross the weekend
VERBS = ("create", "accept", "accept_other", "done", "cancel", "away", "short", "there", "yard", "tick")
STEPS = st.lists(
    st.tuples(
        st.integers(min_value=2, max_value=8 * 60),  # minutes to the next step: a batch never overlaps the last
        st.sampled_from(VERBS),
        st.sampled_from(("task-1", "task-2")),
    ),
    max_size=16,
)


def opened():
    b = book()
    first = [
        create("task-1", START),  # verify_report to the point: 1h, 4wh
        create("task-2", START, kind="register_resident", courtyard=COURTYARD, arrive_within="30m"),
    ]
    return b, [e for action in first for e in b.act(action, START)[0]]


def run(b, verb: str, task: str, now):
    actor = {"accept_other": "dev-other", "cancel": "disp-c01"}.get(verb)
    if verb in ("create",):
        return b.act(create(task, START), now)
    if verb in ("accept", "accept_other", "done", "cancel"):
        action = step(verb.removesuffix("_other"), task, now, **({"actor": actor} if actor else {}))
        return b.act(action, now)
    if verb == "tick":
        return b.tick(now)
    visits = {
        "away": stay(now, 60, north_m=200),
        "short": [*stay(now, 30), fix(now + timedelta(seconds=40), north_m=200)],  # left before the dwell
        "there": stay(now, 60, courtyard=COURTYARD),  # both tasks' place
        "yard": stay(now, 60, north_m=200, courtyard=COURTYARD),  # the courtyard only
    }
    return b.fixes(batch(*visits[verb]))


@settings(max_examples=200, deadline=None)
@given(steps=STEPS, cut=st.integers(min_value=0, max_value=16), replay=st.booleans())
def test_a_book_restored_from_the_last_events_answers_the_future_the_same(steps, cut, replay):
    """`replay`: every event in the order written (the topic), else the newest of each task (PostgreSQL)."""
    original, written = opened()
    now, restored = START, None
    for i, (minutes, verb, task) in enumerate(steps + [(3 * 24 * 60, "tick", "task-1")]):
        if i == cut:
            restored = book()
            newest = {event["task"]: event for event in written}
            for event in written if replay else newest.values():
                restored.restore(event)
            assert dict(restored.tasks()) == dict(original.tasks())
            assert restored.watched == original.watched
        now += timedelta(minutes=minutes)
        out = checked(run(original, verb, task, now))
        written += [e for e in out[0] if "state" in e]
        if restored is not None:
            assert run(restored, verb, task, now) == out, (i, verb, task)


def test_restore_keeps_the_newest_state_and_ignores_a_refusal_without_one():
    b, written = opened()
    accepted, _ = b.act(step("accept", "task-1", START), START)
    r = book()
    for event in [*accepted, *written]:  # the older created event comes last: it changes nothing
        r.restore(event)
    assert r.tasks()["task-1"]["status"] == "accepted"
    (unknown,), _ = b.act(step("accept", "task-9", START), START)
    r.restore(unknown)
    assert "task-9" not in r.tasks()
    done, _ = b.act(step("done", "task-1", START), START)
    r.restore(done[-1])
    assert "task-1" not in r.tasks() and r.watched == {"dev-w1"}  # task-2 still open
    assert r.act(step("done", "task-1", START), START) == ([], [])  # a redelivered done, known as done
