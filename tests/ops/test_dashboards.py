"""The dashboards' street variable (no Prometheus needed): every selector of a metric counted by street, on the
boards a street's people read, is filtered by `street=~"$street"`; patrol and 12345 offer All, governance one
street at a time (its PostgreSQL panels are the weekly 专报's queries of one street, and Grafana quotes a
variable that offers All inside SQL)."""

from __future__ import annotations

import json
import re

from tests.ops.conftest import ROOT

BOARDS = ROOT / "config" / "grafana" / "dashboards"
# Metrics with a street label (streams/escalation/agents.py, streams/patrol/agents.py, streams/tasks/agents.py,
# streams/hotline/agents.py, consumers/state_gauges.py, consumers/hotline_gauges.py; their tests check it).
BY_STREET = {
    "redwall_incidents_opened_total",
    "redwall_incidents_escalated_total",
    "redwall_incident_deadline_breaches_total",
    "redwall_ceiling_exceeded_total",
    "redwall_incident_actions_rejected_total",
    "redwall_incident_alerts_total",
    "redwall_incidents_open",
    "redwall_incidents_open_by_community",
    "redwall_patrol_pings_total",
    "redwall_patrol_status_changes_total",
    "redwall_patrol_alerts_total",
    "redwall_patrol_devices_by_status",
    "redwall_task_events_total",
    "redwall_task_alerts_total",
    "redwall_tasks_open",
    "redwall_task_assignments_total",
    "redwall_hotline_orders_total",
    "redwall_hotline_clock_alerts_total",
    "redwall_hotline_rate",
    "redwall_hotline_orders",
    "redwall_hotline_grid_first_ratio",
}
SELECTOR = re.compile(r"\b(redwall_[a-z_]+)(\{[^}]*\})?")


def board(name: str) -> dict:
    return json.loads((BOARDS / f"{name}.json").read_text(encoding="utf-8"))


def targets(dashboard: dict, kind: str) -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr" if kind == "prometheus" else "rawSql"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", ())
        if target["datasource"]["type"] == kind
    ]


def test_every_street_metric_a_board_shows_is_filtered_by_the_street_variable():
    unfiltered = [
        f"{name}.json «{title}»: {metric}{labels or ''}"
        for name in ("governance", "patrol", "hotline")
        for title, expr in targets(board(name), "prometheus")
        for metric, labels in SELECTOR.findall(expr)
        if metric in BY_STREET and 'street=~"$street"' not in labels
    ]
    assert not unfiltered, "\n".join(unfiltered)


def test_patrol_and_hotline_offer_all_streets_and_filter_their_postgres_panels_too():
    for name in ("patrol", "hotline"):
        [street] = board(name)["templating"]["list"]
        assert (street["name"], street["includeAll"], street["allValue"], street["multi"]) == (
            "street",
            True,
            ".*",
            False,
        )
        assert all("${street:regex}" in sql for _, sql in targets(board(name), "grafana-postgresql-datasource"))


def test_governance_picks_one_street_for_both_its_metrics_and_its_weekly_report_panels():
    [street] = board("governance")["templating"]["list"]
    assert (street["name"], street["includeAll"], street["multi"]) == ("street", False, False)
    assert all("'${street}'" in sql for _, sql in targets(board("governance"), "grafana-postgresql-datasource"))
