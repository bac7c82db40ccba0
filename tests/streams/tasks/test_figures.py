"""What the task book costs on the worker's hot paths, printed (pytest -s), never asserted: fixes() per ping
of a device with one open task and of a device with none, and tick() over 10,000 open tasks, with nothing
due and with every task's warning due at once. What they answer is asserted."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.streams.tasks.book_factories import WORKER, batch, bj, book, create, fix

START = bj("2026-12-08 10:00")


def test_what_fixes_cost_a_ping():
    b = book()
    b.act(create("task-1", START), START)
    # A worker walking elsewhere, a fix every 5 s in batches of 50: every fix is looked at, none arrives.
    batches = [
        batch(*(fix(START + timedelta(seconds=5 * (50 * n + i)), north_m=200 + i) for i in range(50)))
        for n in range(200)
    ]
    others = [{**each, "device": "dev-idle"} for each in batches]
    costs = {}
    for name, feed in (("one open task", batches), ("no task", others)):
        started = time.perf_counter()
        answers = [b.fixes(each) for each in feed]
        costs[name] = (time.perf_counter() - started) / (len(feed) * 50) * 1e6
        assert answers == [([], [])] * len(feed)
    assert b.watched == {WORKER}
    print(", ".join(f"fixes() of a device with {name}: {cost:.2f} µs a ping" for name, cost in costs.items()))


def test_what_tick_costs_over_ten_thousand_open_tasks():
    b = book()
    started = time.perf_counter()
    for n in range(10_000):  # verify_report: arrive in 1 h (warned at 10:48), done in 4 working hours
        b.act(create(f"task-{n}", START, device=f"dev-{n % 500}"), START)
    create_ms = (time.perf_counter() - started) / 10_000 * 1e3
    quiet = START + timedelta(minutes=30)
    started = time.perf_counter()
    for _ in range(1000):
        assert b.tick(quiet) == ([], [])
    idle_us = (time.perf_counter() - started) / 1000 * 1e6
    started = time.perf_counter()
    events, alerts = b.tick(START + timedelta(minutes=50))
    due_ms = (time.perf_counter() - started) * 1e3
    assert len(events) == len(alerts) == 10_000 and {e["event"] for e in events} == {"warned"}
    print(
        f"10,000 open tasks: create {create_ms:.3f} ms a task; tick() with nothing due {idle_us:.2f} µs; "
        f"tick() firing 10,000 warnings {due_ms:.0f} ms ({due_ms / 10:.1f} µs a warning with its alert)"
    )
