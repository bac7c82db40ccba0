"""promtool on Redwall's rules and on the real /metrics output of the running worker and sink."""

from __future__ import annotations

import urllib.request

import pytest

from tests.support.promtool import PROMETHEUS_DIR, promtool


def test_rules_are_valid():
    result = promtool("check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_rules_unit_tests_pass_and_cover_every_alert():
    import yaml

    alerts = {
        r["alert"]
        for g in yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    tests = yaml.safe_load((PROMETHEUS_DIR / "rules_test.yml").read_text())["tests"]
    tested = {case["alertname"] for t in tests for case in t.get("alert_rule_test", ()) if case["exp_alerts"]}
    assert alerts == tested  # every alert has a case where it fires
    result = promtool("test", "rules", "rules_test.yml")
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_compose_prometheus_config_is_valid():
    result = promtool("check", "config", "prometheus.yml")  # its rule files too
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


@pytest.mark.integration
@pytest.mark.parametrize("process", ["worker", "sink", "delivery"])
def test_metrics_output_passes_promtool(observed, process):
    url = {
        "worker": observed.pipeline.worker_metrics_url,
        "sink": observed.pipeline.sink_metrics_url,
        "delivery": observed.delivery_metrics_url,
    }[process]
    with urllib.request.urlopen(url, timeout=5) as response:
        exposition = response.read()
    assert b"redwall_" in exposition
    result = promtool("check", "metrics", stdin=exposition)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
