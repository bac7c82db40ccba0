"""The task rules (config/tasks.toml): the sample loads with the limits of each kind and the arrival rule,
REDWALL_TASK_RULES points at another file, and a mistake is refused naming the file, the key and the fix."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.errors import ConfigError
from config.settings import TASK_RULES, Settings
from config.spans import Span
from config.tasks import load_task_rules
from schemas.tasks import KINDS


def write(tmp_path, old: str, new: str):
    text = TASK_RULES.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "tasks.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_sample_rules_load_with_every_kind_and_the_arrival_rule():
    rules = load_task_rules()
    assert set(rules.limits) == set(KINDS)
    assert rules.limits["register_resident"] == {"arrive": Span(2, "h"), "done": Span(1, "wd")}
    assert rules.limits["verify_report"] == {"arrive": Span(1, "h"), "done": Span(4, "wh")}
    assert rules.limits["visit_courtyard"] == rules.limits["other"] == {"arrive": Span(4, "h"), "done": Span(1, "wd")}
    assert rules.warn_at == 0.8
    arrival = rules.arrival
    assert (arrival.dwell, arrival.gap) == (timedelta(seconds=60), timedelta(seconds=120))
    assert (arrival.radius_m, arrival.accuracy_cap_m, arrival.poor_accuracy_m) == (30, 25, 50)


def test_the_setting_names_the_file(tmp_path):
    assert Settings.from_env({}).task_rules_path == TASK_RULES
    path = write(tmp_path, 'dwell = "60s"', 'dwell = "90s"')
    settings = Settings.from_env({"REDWALL_TASK_RULES": str(path)})
    assert load_task_rules(settings.task_rules_path).arrival.dwell == timedelta(seconds=90)


@pytest.mark.parametrize(
    "old, new, key, fix",
    [
        ('arrive = "2h"', 'arrive = "two hours"', "limits.register_resident.arrive", '"4wh"'),
        ('done = "4wh"', 'done = "0wh"', "limits.verify_report.done", "positive number"),
        ("[limits.other]", "[limits.others]", "limits.others", "use one of"),
        ('# 其他\narrive = "4h"', '# 其他\narive = "4h"', "limits.other.arive", "use one of"),
        ("warn_at = 0.8", "warn_at = 1.5", "warn_at", "0.8"),
        ("warn_at = 0.8", 'warn_at = "0.8"', "warn_at", "share"),
        ('dwell = "60s"', "dwell = 60", "arrival.dwell", '"30m"'),
        ('dwell = "60s"', 'dwell = "2h"', "arrival.dwell", '"60s"'),
        ("radius_m = 30", "radius_m = 0", "arrival.radius_m", "1..1000"),
        ("poor_accuracy_m = 50", "poor_accuracy_m = true", "arrival.poor_accuracy_m", "1..1000"),
        ('gap = "120s"', 'gap = "-1s"', "arrival.gap", "positive"),
        ("[arrival]", "[arival]", "arival", "use one of"),
    ],
)
def test_mistakes_name_the_file_the_key_and_the_fix(tmp_path, old, new, key, fix):
    path = write(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_task_rules(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}"), message
    assert fix in message, message


def test_a_missing_kind_or_table_is_named(tmp_path):
    path = write(tmp_path, '[limits.other]              # 其他\narrive = "4h"\ndone = "1wd"\n', "")
    with pytest.raises(ConfigError, match=r"tasks\.toml: limits\.other: missing or not a table; add a"):
        load_task_rules(path)


def test_an_unreadable_file_says_so(tmp_path):
    path = tmp_path / "tasks.toml"
    path.write_text("[arrival\ndwell = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read the task rules"):
        load_task_rules(path)
