"""The escalation rules file: the sample loads, and each kind of mistake names the file, the key and a fix."""

from __future__ import annotations

import shutil

import pytest

from config.errors import ConfigError
from config.rules import DEFAULT_RULES, load_rules
from config.spans import Span


def test_the_sample_rules_load_and_answer():
    rules = load_rules()
    assert rules.initial_level("sanitation", "low") == "grid"
    assert rules.initial_level("sanitation", "high") == "community"
    assert rules.initial_level("safety_hazard", "medium") == "community"  # by category beats by severity
    assert rules.deadlines_for("street", "safety_hazard").acknowledge == Span(15, "m")
    assert rules.deadlines_for("street", "dispute").acknowledge == Span(30, "m")
    assert rules.sensitive_zone("dispute", 39.9085, 116.3870).id == "zone-key-site-east"
    assert rules.sensitive_zone("sanitation", 39.9085, 116.3870) is None
    assert rules.sensitive_zone("dispute", 39.8969, 116.3828) is None
    assert rules.ceiling_allows("safety_hazard", "critical", "deadline")
    assert not rules.ceiling_allows("safety_hazard", "critical", "request")
    assert not rules.ceiling_allows("dispute", "critical", "deadline")


def write(tmp_path, old: str, new: str):
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "escalation.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    (tmp_path / "sample").mkdir(exist_ok=True)
    shutil.copy(DEFAULT_RULES.parent / "sample" / "sensitive_zones.geojson", tmp_path / "sample")
    return path


@pytest.mark.parametrize(
    "old, new, key, fix",
    [
        (
            'acknowledge = "30m"\nresolve = "4h"',
            'acknowledge = "half an hour"\nresolve = "4h"',
            "deadlines.grid.acknowledge",
            '"4wh"',
        ),
        ('default = "grid"', 'default = "province"', "initial.default", "grid, community, street"),
        (
            'high = "community", critical = "street" }',
            'high = "communty", critical = "street" }',
            "initial.by_severity.high",
            "use one of",
        ),
        ("safety_hazard = { low", "fire = { low", "initial.by_category.fire", "use one of"),
        ("escalate_at = 5", "escalate_at = 1", "clustering.escalate_at", "2..10000"),
        ('closed = "30d"', 'closed = "forever"', "retention.closed", "unit"),
        ('window = "2h"', "window = 2", "clustering.window", "unit"),
        ('file = "sample/sensitive_zones.geojson"', 'file = "zones.geojson"', "sensitive_zones.file", "relative"),
        ('reasons = ["deadline"]', 'reasons = ["boredom"]', "ceiling.allow #1.reasons", "deadline, request, cluster"),
        ("[clustering]", "[clusterin]", "clusterin", "use one of"),
        ("[deadlines.district]\nacknowledge", "[deadlines.distrikt]\nacknowledge", "deadlines.distrikt", "use one of"),
    ],
)
def test_mistakes_name_the_file_the_key_and_the_fix(tmp_path, old, new, key, fix):
    path = write(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}"), message
    assert fix in message, message


def test_an_unreadable_file_says_so(tmp_path):
    path = tmp_path / "escalation.toml"
    path.write_text("[alerts\nmax_age = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read escalation rules"):
        load_rules(path)


DISTRICT_RULES = """
[streets.s02.deadlines.community]
acknowledge = "10m"
resolve = "1wd"

[streets.s02.initial.by_severity]
high = "street"

[[streets.s02.ceiling.allow]]
category = "*"
severities = ["high"]
reasons = ["deadline"]
"""


def _district_rules(tmp_path, extra: str = DISTRICT_RULES):
    base = DEFAULT_RULES.read_text(encoding="utf-8")
    path = write(tmp_path, base, base + extra if extra.lstrip().startswith("[") else extra + base)  # bare: top level
    return load_rules(path)


def test_a_street_sets_its_own_limits_levels_and_ceiling_over_the_default(tmp_path):
    rules = _district_rules(tmp_path)
    own, other = rules.for_street("s02"), rules.for_street("s01")
    assert other is rules and rules.for_street(None) is rules
    assert own.deadlines_for("community", "sanitation").acknowledge.text == "10m"
    assert own.deadlines_for("community", "sanitation").resolve.text == "1wd"
    assert own.deadlines_for("grid", "sanitation") == rules.deadlines_for("grid", "sanitation")  # merged table by table
    assert own.initial_level("sanitation", "high") == "street"
    assert own.ceiling_allows("sanitation", "high", "deadline") and not rules.ceiling_allows(
        "sanitation", "high", "deadline"
    )
    assert own.version != rules.version  # a street's incidents keep the version they opened under
    rules.check_streets({"s01", "s02"})


@pytest.mark.parametrize(
    "extra, key, fix",
    [
        ('[streets.s02.alerts]\nmax_age = "1h"\n', "streets.s02.alerts", "use one of ceiling, clustering"),
        ("[streets.s02.clustering]\nresolution = 8\n", "streets.s02.clustering.resolution", "remove it"),
        ('[streets.s02.deadlines.grid]\nacknowledge = "soon"\n', "streets.s02.deadlines.grid.acknowledge", ""),
        ('streets = "s02"\n', "streets", "[streets.<street id>]"),
    ],
)
def test_a_streets_rules_are_refused_naming_its_key(tmp_path, extra, key, fix):
    with pytest.raises(ConfigError) as caught:
        _district_rules(tmp_path, extra)
    assert f": {key}: " in str(caught.value) and fix in str(caught.value)


def test_rules_for_a_street_the_geometry_does_not_hold_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"streets\.s02: is not a street of the geometry; use one of .*s01"):
        _district_rules(tmp_path).check_streets({"s01"})
