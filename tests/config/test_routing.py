"""routing.toml: the shipped file loads; a wrong one is refused naming the file, the key and the fix."""

from __future__ import annotations

import pytest

from config.errors import ConfigError
from config.routing import RoutingError, load_routing
from config.settings import SAMPLE_ROUTING

BASE = """
[channels.staff]
type = "json"
url = "http://127.0.0.1:9/staff"

[route]
channels = ["staff"]
"""


def load(tmp_path, text: str):
    path = tmp_path / "routing.toml"
    path.write_text(text)
    return load_routing(path)


def test_the_shipped_routing_loads_and_routes_street_matters_to_the_centre_and_the_community():
    routing = load_routing(SAMPLE_ROUTING)
    street = {"level": "street", "kind": "incident_escalated", "community": "c01"}
    channels = {c for route in routing.routes_for(street) for c in route.channels}
    assert channels == {"command-centre", "street-duty", "community-staff"}
    patrol = [r.id for r in routing.routes_for({"level": "grid", "kind": "off_post"})]
    assert patrol == ["route.routes.3"]  # after the two weekly-report routes and the street's
    assert routing.routes_by_id["route.routes.2"].quiet_hours is None  # switched off
    assert routing.routes_by_id["route.routes.3"].quiet_hours is not None  # inherited
    report = [r.id for r in routing.routes_for({"level": "street", "kind": "weekly_report", "street": "s01"})]
    assert report == ["route.routes.1"]  # the weekly report's route alone: no street-level double notice
    district = routing.routes_for({"level": "district", "kind": "weekly_report", "street": "d"})
    assert [(r.id, r.channels) for r in district] == [("route.routes.0", ("command-centre",))]
    assert routing.inhibit[0].equal == ("incident",)
    assert all(c.send_resolved for c in routing.channels.values())  # clearances go out unless switched off


def test_a_district_routes_each_streets_alerts_to_its_own_desk_and_groups_by_street(tmp_path):
    routing = load(
        tmp_path,
        BASE.replace("[route]", '[channels.desk-b]\ntype = "json"\nurl = "http://127.0.0.1:9/b"\n\n[route]')
        + 'group_by = ["street", "kind"]\n[[route.routes]]\nmatch = { street = "s02" }\nchannels = ["desk-b"]\n',
    )
    assert [r.channels for r in routing.routes_for({"street": "s02", "kind": "offline"})] == [("desk-b",)]
    assert [r.channels for r in routing.routes_for({"street": "s01", "kind": "offline"})] == [("staff",)]
    assert routing.root.group_by == ("street", "kind")


def test_children_inherit_unset_keys(tmp_path):
    routing = load(
        tmp_path, BASE + 'group_wait = "5s"\nrepeat_interval = "2h"\n[[route.routes]]\nmatch = { kind = "offline" }\n'
    )
    child = routing.routes_by_id["route.routes.0"]
    assert (child.channels, child.group_wait, child.repeat_interval) == (("staff",), 5.0, 7200.0)


@pytest.mark.parametrize(
    "text, key, fix",
    [
        (BASE.replace('type = "json"', 'type = "sms"'), "channels.staff.type", "use one of json, wecom, dingtalk"),
        (BASE.replace('url = "http://127.0.0.1:9/staff"', 'url = "ftp://x"'), "channels.staff.url", "http(s) URL"),
        (BASE.replace('["staff"]', '["nobody"]'), "route.channels", "add [channels.nobody]"),
        (BASE + 'group_wait = "soon"\n', "route.group_wait", 'write it like "30s"'),
        (BASE + 'group_by = ["device"]\n', "route.group_by", "is not one of"),
        (BASE + '[[route.routes]]\nmatch = { level = "city" }\n', "route.routes.0.match.level", "is not one of grid"),
        (BASE + '[[route.routes]]\nmatch = { colour = "red" }\n', "route.routes.0.match.colour", "unknown key"),
        (BASE + 'quiet_hours = { start = "22:00" }\n', "route.quiet_hours", 'end = "07:00"'),
        (BASE + 'continue = "yes"\n', "route.continue", "true or false"),
        (
            BASE.replace('type = "json"', 'type = "json"\nsend_resolved = "no"'),
            "channels.staff.send_resolved",
            "true or false",
        ),
        (
            BASE + '[[inhibit]]\nsource = { level = "street" }\nequal = ["device"]\n',
            "inhibit.0.equal",
            "must be an array",
        ),
        ('utc_offset = "Beijing"\n' + BASE, "utc_offset", '"+08:00"'),
    ],
)
def test_errors_name_the_file_the_key_and_the_fix(tmp_path, text, key, fix):
    with pytest.raises(RoutingError) as raised:
        load(tmp_path, text)
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'routing.toml'}: {key}:"), message
    assert fix in message
    assert isinstance(raised.value, ConfigError)


def test_unreadable_toml_and_a_missing_root_are_refused(tmp_path):
    with pytest.raises(RoutingError, match="cannot read the alert routing"):
        load(tmp_path, "[route\n")
    with pytest.raises(RoutingError, match=r"\[route\] is missing"):
        load(tmp_path, BASE.split("[route]")[0])


def test_a_street_with_no_webhook_yet_has_a_routing_with_no_channel(tmp_path):
    """No channel and no route: every alert reaches the console and the Kafka topic only (a declared
    channel with no route is still refused above)."""
    routing = load(tmp_path, 'utc_offset = "+08:00"\nmax_age = "6h"\n')
    assert routing.channels == {} and routing.max_age == 6 * 3600
    assert [r.channels for r in routing.routes_for({"kind": "offline", "level": "grid"})] == [()]
