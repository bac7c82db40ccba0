"""The task wiring's pure part: its metrics count by the task's street, so a district's dashboards pick one."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.tasks.agents import TaskMetrics
from streams.tasks.alerts import TaskWords
from streams.tasks.book import TaskBook
from tests.streams.tasks.book_factories import CAL, RULES, TZ, bj, create, step

STREETS = ("xichangan", "xinjiekou")
TUE = bj("2026-12-08 10:00")


def test_task_events_alerts_and_open_tasks_count_by_street():
    reg = CollectorRegistry()
    metrics, books = TaskMetrics(reg), {s: TaskBook(RULES, CAL, TZ, s) for s in STREETS}
    words = TaskWords(TZ, None, lambda device: device, lambda place: place)
    for n, street in enumerate(STREETS):
        for k in range(n + 1):  # one task in the first street, two in the second
            events, _ = books[street].act(create(f"task-{street}-{k}", TUE, street=street), TUE)
            metrics.count(events, [])
    refused, _ = books["xinjiekou"].act(step("accept", "task-none", TUE), TUE)  # no such task: no street
    late = words.alert(books["xinjiekou"].tasks()["task-xinjiekou-0"], "arrive", "late", TUE, TUE)
    metrics.count(refused, [late])
    value = reg.get_sample_value
    created = {s: value("redwall_task_events_total", {"street": s, "event": "created"}) for s in STREETS}
    assert created == {"xichangan": 1, "xinjiekou": 2}
    assert value("redwall_task_events_total", {"street": "", "event": "refused"}) == 1
    assert value("redwall_task_alerts_total", {"street": "xinjiekou", "kind": "task_late"}) == 1
    metrics.count_open(books.values())
    assert [value("redwall_tasks_open", {"street": s}) for s in STREETS] == [1, 2]
    metrics.count_open([books["xinjiekou"]])  # the first street's partition went to another worker
    assert [value("redwall_tasks_open", {"street": s}) for s in STREETS] == [None, 2]
