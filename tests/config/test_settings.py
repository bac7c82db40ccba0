"""Settings come from the environment; a bad value names the variable and the fix."""

import pytest

from config.errors import ConfigError
from config.settings import Settings


def test_defaults_are_valid():
    settings = Settings.from_env({})
    assert settings.h3_resolution == 12
    assert len(set(settings.all_topics)) == len(settings.all_topics)


def test_values_are_read_and_typed():
    settings = Settings.from_env({"REDWALL_PARTITIONS": "8", "DATABASE_URL": "postgresql://u@h/db"})
    assert settings.partitions == 8
    assert settings.database_url == "postgresql://u@h/db"


@pytest.mark.parametrize(
    "env, words",
    [
        ({"REDWALL_PARTITIONS": "four"}, "REDWALL_PARTITIONS='four' is not a int"),
        ({"REDWALL_H3_RESOLUTION": "3"}, "REDWALL_H3_RESOLUTION=3 is invalid: use 9..14"),
        ({"REDWALL_TIMEZONE": "Beijing"}, "REDWALL_TIMEZONE=Beijing is invalid: use an IANA time zone name"),
        ({"REDWALL_GEOMETRY": "/nowhere.geojson"}, "REDWALL_GEOMETRY=/nowhere.geojson is invalid: no file"),
        ({"REDWALL_MAJOR_EVENTS": "/nowhere.toml"}, "REDWALL_MAJOR_EVENTS="),
        ({"DATABASE_URL": "localhost"}, "DATABASE_URL=localhost is invalid"),
        ({"REDWALL_TOPIC_PINGS": "redwall.reports.v1"}, "must all differ"),
        (
            {"REDWALL_POSITION_RETENTION_DAYS": "0"},
            "REDWALL_POSITION_RETENTION_DAYS=0 is invalid: use a number of days",
        ),
        (
            {"REDWALL_POSITION_DAYS_AHEAD": "90"},
            "REDWALL_POSITION_DAYS_AHEAD=90 is invalid: use a number of days, 1..31",
        ),
        ({"REDWALL_DEAD_LETTER_RETENTION_DAYS": "-1"}, "REDWALL_DEAD_LETTER_RETENTION_DAYS=-1 is invalid"),
        ({"REDWALL_KAFKA_SESSION_SECONDS": "0.5"}, "REDWALL_KAFKA_SESSION_SECONDS=0.5 is invalid: use 1..300"),
        ({"REDWALL_KAFKA_IDLE_SECONDS": "0"}, "REDWALL_KAFKA_IDLE_SECONDS=0.0 is invalid: use a positive"),
        ({"REDWALL_RETENTION_INTERVAL_SECONDS": "0"}, "REDWALL_RETENTION_INTERVAL_SECONDS=0.0 is invalid"),
        ({"REDWALL_HOTLINE_CLOCK_SECONDS": "0"}, "REDWALL_HOTLINE_CLOCK_SECONDS=0.0 is invalid: use a positive"),
        ({"REDWALL_ACTION_VERDICT_SECONDS": "-1"}, "REDWALL_ACTION_VERDICT_SECONDS=-1.0 is invalid: use 0..60 seconds"),
        ({"REDWALL_WORKER_URL": "worker:6066"}, "REDWALL_WORKER_URL=worker:6066 is invalid: use http(s)://HOST:PORT"),
        ({"REDWALL_WORKER_URL": "http://worker:6066/v1"}, "REDWALL_WORKER_URL=http://worker:6066/v1 is invalid"),
        (
            {"REDWALL_CONNECT_TIMEOUT_SECONDS": "-5"},
            "REDWALL_CONNECT_TIMEOUT_SECONDS=-5.0 is invalid: use 0..3600 seconds",
        ),
        (
            {"REDWALL_WORKER_METRICS_PORT": "6066"},
            "REDWALL_WORKER_METRICS_PORT=6066 is invalid: use a TCP port 1..65535 other than REDWALL_WEB_PORT's",
        ),
    ],
)
def test_bad_values_name_variable_and_fix(env, words):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert words in str(info.value)


def test_every_failing_check_names_a_real_variable():
    """A check that names no field would crash with StopIteration instead of explaining itself."""
    for field_env in [
        env
        for env, _, _ in Settings.from_env({}).describe()
        if env.endswith(("GEOMETRY", "EVENTS", "ROSTER", "ROUTING"))
    ]:
        with pytest.raises(ConfigError) as info:
            Settings.from_env({field_env: "/nowhere"})
        assert field_env in str(info.value)


def test_the_console_reaches_the_worker_it_is_told_of_or_the_one_on_its_host():
    from consumers.console.actions import worker_url

    assert worker_url(Settings.from_env({"REDWALL_WEB_PORT": "7001"})) == "http://127.0.0.1:7001"
    assert worker_url(Settings.from_env({"REDWALL_WORKER_URL": "http://worker:6066/"})) == "http://worker:6066"
