"""The dashboards' street variable (no Prometheus needed): every selector of a metric counted by street, on the
boards a street's people read, is filtered by `street=~"$street"`; patrol and 12345 offer All, governance one
street at a time (its PostgreSQL panels are the weekly 专报's queries of one street, and Grafana quotes a
variable that offers All inside SQL). Which metrics are counted by street is read from the registries the
worker's and the sink's metric classes fill, and no module's source defines one they leave out."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from consumers.hotline_gauges import HotlineGauges
from consumers.state_gauges import StateGauges
from streams.escalation.agents import EscalationMetrics
from streams.hotline.agents import HotlineMetrics
from streams.patrol.agents import PatrolMetrics
from streams.tasks.agents import TaskMetrics
from tests.ops.conftest import ROOT

BOARDS = ROOT / "config" / "grafana" / "dashboards"
METRIC_KINDS = {"Counter", "Gauge", "Histogram", "Summary"}
SELECTOR = re.compile(r"\b(redwall_[a-z_]+)(\{[^}]*\})?")


def street_series() -> set[str]:
    """Every series name (with `_total`, `_bucket`... as exposed) of a metric labelled by street, read from the
    registries the classes that define them fill: the worker's, and the sink's (its gauges read no pool here)."""
    worker, sink = CollectorRegistry(), CollectorRegistry()
    EscalationMetrics(worker), PatrolMetrics(worker), TaskMetrics(worker), HotlineMetrics(worker, [])
    StateGauges(None, sink), HotlineGauges(None, None, sink, timezone="Asia/Shanghai")
    # prometheus_client keeps a collector's label and series names to itself; nothing public lists them. A
    # counter's or histogram's family name heads its names, but only a gauge's is a series a query can select.
    return {
        name
        for registry in (worker, sink)
        for collector, names in registry._collector_to_names.items()
        if "street" in collector._labelnames
        for name in names[1:] or names
    }


BY_STREET = street_series()


def defined_by_street(path: Path) -> set[str]:
    """The metrics a module defines with a literal label list naming street, read from its source."""
    return {
        node.args[0].value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) in METRIC_KINDS
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and any(
            isinstance(labels, ast.List | ast.Tuple) and any(getattr(e, "value", None) == "street" for e in labels.elts)
            for labels in (*node.args[1:], *(k.value for k in node.keywords))
        )
    }


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
    shown = [
        (f"{name}.json «{title}»: {metric}{labels or ''}", 'street=~"$street"' in labels)
        for name in ("governance", "patrol", "hotline")
        for title, expr in targets(board(name), "prometheus")
        for metric, labels in SELECTOR.findall(expr)
        if metric in BY_STREET
    ]
    assert len(shown) > 20, shown  # the boards' street panels are found, so the check below checks something
    unfiltered = [selector for selector, filtered in shown if not filtered]
    assert not unfiltered, "\n".join(unfiltered)


def test_the_street_metrics_are_read_from_every_module_that_defines_one():
    defined = {
        name: path.relative_to(ROOT)
        for package in ("streams", "sinks", "consumers")
        for path in (ROOT / package).rglob("*.py")
        for name in defined_by_street(path)
    }
    assert len(defined) > 20, defined
    missing = [f"{path}: {name}" for name, path in defined.items() if name not in BY_STREET]
    assert not missing, "labelled by street, but street_series() makes no registry of them:\n" + "\n".join(missing)


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
