"""Every PromQL expression of every dashboard panel and every rule, run through a real Prometheus that
scraped the running pipeline during a simulator run; and every Postgres panel run against Postgres.
A panel whose query returns nothing in a healthy run is a broken panel."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request

import asyncpg
import pytest
import yaml

from tests.ops.conftest import ROOT, RULES

pytestmark = pytest.mark.integration

DASHBOARDS = sorted((ROOT / "config" / "grafana" / "dashboards").glob("*.json"))

# Expressions that legitimately return nothing in a healthy run of SIMULATION_SECONDS, and why. Alert
# expressions are not listed: they must all be empty (nothing fires), while the recorded signals they
# compare must have data.
ALLOWED_EMPTY: dict[str, str] = {
    'sum by (level, reason) (rate(redwall_incidents_escalated_total{street=~"$street"}[$__rate_interval]))': "nothing escalates in under a minute: the shortest deadline is minutes, clustering needs repeats",
    'sum by (level, deadline) (increase(redwall_incident_deadline_breaches_total{street=~"$street"}[1h]))': "no deadline passes in under a minute",
    'sum by (outcome) (rate(redwall_patrol_pings_total{street=~"$street", outcome!~"good|unrostered"}[$__rate_interval]))': "the simulator's fixes are all good GPS",
    'sum by (kind, status) (increase(redwall_patrol_alerts_total{street=~"$street"}[1h]))': "off post needs the grace period (120 s) and offline 300 s of silence: longer than the run",
    "sum by (topic, reason) (rate(redwall_records_left_uncommitted_total[$__rate_interval]))": "only a rebalance while records are in flight, or a failing batch, leaves records uncommitted",
}

# What Grafana puts in for its variables; a range long enough to hold the whole simulator run. The street is
# the sample's own, not All (".*"): a metric a panel filters by street but that has no street label shows
# nothing, and fails the panel.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "5s", "$__range": "5m", "$street": "xichangan"}


def panels(dashboard: dict):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", ())  # panels inside a collapsed row


def panel_targets(kind: str):
    """(dashboard file, panel title, query) for every target of a data source type."""
    for path in DASHBOARDS:
        for panel in panels(json.loads(path.read_text())):
            for target in panel.get("targets", ()):
                if target["datasource"]["type"] == kind:
                    yield path.name, panel["title"], target["expr" if kind == "prometheus" else "rawSql"]


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def grafana(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def query(prometheus_url: str, expr: str) -> dict:
    url = f"{prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:  # 400: a bad expression, with Prometheus's reason
        return json.load(error)


def test_dashboards_exist_for_each_audience():
    names = {path.stem for path in DASHBOARDS}
    assert {"pipeline", "governance", "patrol", "delivery", "hotline"} <= names
    assert all(json.loads(p.read_text())["uid"] == f"redwall-{p.stem}" for p in DASHBOARDS)


def test_every_dashboard_panel_query_returns_data(observed):
    broken = []
    for board, title, expr in panel_targets("prometheus"):
        answer = query(observed.prometheus_url, grafana(expr))
        if answer["status"] != "success":
            broken.append(f"{board} «{title}»: invalid: {answer.get('error')}\n    {expr}")
        elif not answer["data"]["result"] and expr not in ALLOWED_EMPTY:
            broken.append(f"{board} «{title}»: no data\n    {expr}")
    assert not broken, "\n".join(broken)


def test_every_rule_is_healthy_every_signal_has_data_and_no_alert_fires(observed):
    with urllib.request.urlopen(f"{observed.prometheus_url}/api/v1/rules", timeout=10) as response:
        loaded = [r for g in json.load(response)["data"]["groups"] for r in g["rules"]]
    assert len(loaded) == len(rules())
    assert [(r["name"], r["health"], r.get("lastError")) for r in loaded if r["health"] != "ok"] == []
    problems = []
    for rule in rules():
        answer = query(observed.prometheus_url, rule["expr"])
        if answer["status"] != "success":
            problems.append(f"{rule.get('record') or rule['alert']}: invalid: {answer.get('error')}")
        elif "record" in rule and not answer["data"]["result"] and rule["expr"] not in ALLOWED_EMPTY:
            problems.append(f"{rule['record']}: no data")
        elif "alert" in rule and answer["data"]["result"]:
            problems.append(f"{rule['alert']} would fire in a healthy run: {answer['data']['result']}")
    assert not problems, "\n".join(problems)


def test_every_alert_compares_a_recorded_signal():
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    for rule in rules():
        if "alert" in rule:
            used = set(re.findall(r"redwall:[a-z0-9_:]+", rule["expr"]))
            assert used and used <= recorded, rule["alert"]


def postgres(sql: str) -> str:
    """Grafana's Postgres macros and the `street` variable (one street, or All as a regular expression), for the
    last hour."""
    sql = sql.replace("$__timeFrom()", "(now() - interval '1 hour')").replace("$__timeTo()", "now()")
    sql = sql.replace("'${street}'", f"'{GRAFANA_VARIABLES['$street']}'").replace("${street:regex}", ".*")
    sql = re.sub(r"\$__timeFilter\(([\w.]+)\)", r"\1 BETWEEN now() - interval '1 hour' AND now()", sql)
    return re.sub(
        r"\$__timeGroupAlias\(([\w.]+),\s*'?(\w+)'?\)",
        lambda m: f"date_bin('{m[2]}', {m[1]}, 'epoch') AS \"time\"",
        sql,
    )


async def test_every_postgres_panel_query_returns_rows(observed):
    broken, pg = [], await asyncpg.connect(observed.settings.database_url)  # the run's own tables
    try:
        for board, title, sql in panel_targets("grafana-postgresql-datasource"):
            try:
                rows = await pg.fetch(postgres(sql))
            except asyncpg.PostgresError as error:
                broken.append(f"{board} «{title}»: invalid: {error}\n    {sql}")
                continue
            if not rows:
                broken.append(f"{board} «{title}»: no rows\n    {sql}")
    finally:
        await pg.close()
    assert not broken, "\n".join(broken)


def test_consumer_lag_covers_the_worker_the_sinks_and_delivery(observed):
    answer = query(observed.prometheus_url, "count by (group) (redwall_consumer_lag_records)")
    groups = {r["metric"]["group"] for r in answer["data"]["result"]}
    assert {"redwall", "redwall-sink-reports", "redwall-sink-positions", "redwall-deliver-ops-receiver"} <= groups


def test_every_consumed_record_is_counted_once_as_ingested_or_dead_lettered(observed):
    """Records posted over HTTP are counted by the agent that consumes them, not a second time at ingest."""
    from prometheus_client.parser import text_string_to_metric_families

    def totals() -> dict[tuple[str, str], float]:
        with urllib.request.urlopen(observed.pipeline.worker_metrics_url, timeout=5) as response:
            families = text_string_to_metric_families(response.read().decode())
            return {
                (s.name, s.labels.get("topic", "")): s.value
                for f in families
                for s in f.samples
                if s.name.endswith("_total")
            }

    deadline = time.monotonic() + 15
    while True:  # the worker may still be finishing its last batch
        t = totals()
        topics = (observed.settings.topic_reports, observed.settings.topic_pings)
        counted = {
            topic: t.get(("redwall_events_ingested_total", topic), 0) + t.get(("redwall_deadletters_total", topic), 0)
            for topic in topics
        }
        consumed = {topic: t.get(("faust_messages_received_per_topic_total", topic), 0) for topic in topics}
        if counted == consumed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    # A batch re-delivered after a rebalance is counted again by one side and not always by the
    # other (seen: 12 counted for 10 received under a loaded machine), so allow a few records of
    # slack; counting HTTP input twice would double the figure, far outside it.
    assert all(consumed.values())
    for topic in topics:
        slack = max(2, consumed[topic] // 4)
        assert consumed[topic] - slack <= counted[topic] <= consumed[topic] + slack, (topic, counted, consumed)
