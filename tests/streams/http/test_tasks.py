"""What POST /v1/tasks and POST /v1/tasks/{id}/actions accept, as pure logic: who may send whom where, the
place completed from the geometry, and a refusal naming the field."""

from __future__ import annotations

import pytest

from config.roster import Roster, Worker
from sinks.credentials import Credential
from streams.http.refusal import Refused
from streams.http.tasks import TaskPlaces, creation, step
from tests.support.incident_factories import registry

STREET = Credential("dispatcher", "zhao", "street")
C01 = Credential("dispatcher", "wang", "community", "c01")
READER = Credential("dispatcher", "li", "read")
LEADER = Credential("device", "dev-chief")
PHONE = Credential("device", "dev-a")
COURTYARD = "c01-g01-y01"  # in grid c01-g01 of community c01
ROSTER = Roster(
    "Asia/Shanghai",
    {},
    {
        "dev-chief": Worker("dev-chief", "王网格长", "grid_chief", "c01-g01", None, ("day",)),
        "dev-a": Worker("dev-a", "张三", "grid_worker", "c01-g01", None, ("day",)),
        "dev-b": Worker("dev-b", "李四", "grid_worker", "c02-g01", None, ("day",)),
    },
)


def places() -> TaskPlaces:
    return TaskPlaces(registry(), 30.0)


def create(body: dict, who: Credential = STREET) -> dict:
    return creation(body, who, ROSTER, places())


def refused(body: dict, who: Credential = STREET) -> Refused:
    with pytest.raises(Refused) as info:
        create(body, who)
    return info.value


def test_a_task_to_a_courtyard_points_at_its_centre_and_carries_its_grid_community_and_street():
    task = create({"device": "dev-a", "kind": "visit_courtyard", "courtyard": COURTYARD})
    lng, lat = registry().courtyards[COURTYARD].centre
    assert task["location"] == {"lat": lat, "lng": lng} and task["radius_m"] == 30.0
    assert (task["grid"], task["community"], task["street"]) == ("c01-g01", "c01", registry().street.id)
    assert task["action"] == "create" and task["task"].startswith("task-") and task["actor"] == "zhao"
    assert task["creator"] == {"subject": "zhao", "role": "street"}


def test_a_task_to_a_point_is_placed_in_the_point_s_grid_and_a_resend_keeps_its_id():
    lng, lat = registry().courtyards[COURTYARD].centre
    body = {"id": "task-mine-1", "device": "dev-b", "kind": "other", "location": {"lat": lat, "lng": lng}}
    task = create({**body, "radius_m": 50})
    assert (task["task"], task["grid"], task["radius_m"]) == ("task-mine-1", "c01-g01", 50)
    assert "courtyard" not in task  # arrival by the radius: the point's courtyard is not the target


def test_a_community_dispatcher_sends_only_inside_its_community():
    assert create({"device": "dev-a", "kind": "other", "courtyard": COURTYARD}, C01)["creator"] == {
        "subject": "wang",
        "role": "community",
        "community": "c01",
    }
    elsewhere = sorted(c for c in registry().courtyards if c.startswith("c02-"))[0]
    answer = refused({"device": "dev-a", "kind": "other", "courtyard": elsewhere}, C01)
    assert answer.status == 403 and "c01" in answer.errors[0].reason and "task" in answer.errors[0].reason


def test_a_grid_leader_s_phone_sends_the_workers_of_its_own_grid_only():
    task = create({"device": "dev-a", "kind": "register_resident", "courtyard": COURTYARD}, LEADER)
    assert task["creator"] == {"subject": "dev-chief", "role": "grid_chief", "community": "c01"}
    answer = refused({"device": "dev-b", "kind": "other", "courtyard": COURTYARD}, LEADER)
    assert (answer.status, answer.errors[0].field) == (403, "device") and "c02-g01" in answer.errors[0].reason


@pytest.mark.parametrize(
    "who, why",
    [(PHONE, "grid leader"), (READER, "read"), (Credential("device", "dev-stranger"), "grid leader")],
)
def test_a_worker_s_phone_a_reader_or_a_phone_off_the_roster_may_not_create(who, why):
    answer = refused({"device": "dev-a", "kind": "other", "courtyard": COURTYARD}, who)
    assert answer.status == 403 and why in answer.errors[0].reason


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"kind": "other", "courtyard": COURTYARD}, "device", "missing"),
        ({"device": "dev-a", "courtyard": COURTYARD}, "kind", "missing"),
        ({"device": "dev-x", "kind": "other", "courtyard": COURTYARD}, "device", "not on the roster"),
        ({"device": "dev-a", "kind": "other", "courtyard": "c01-g01-y999"}, "courtyard", "not a courtyard"),
        ({"device": "dev-a", "kind": "other"}, "location", "name a courtyard or give a point"),
        ({"device": "dev-a", "kind": "other", "location": {"lat": 40.5, "lng": 116.0}}, "location", "outside"),
        ({"device": "dev-a", "kind": "dance", "courtyard": COURTYARD}, "kind", "must be one of"),
        ({"device": "dev-a", "kind": "other", "courtyard": COURTYARD, "arrive_within": "soon"}, "arrive_within", ""),
        ({"device": "dev-a", "kind": "other", "courtyard": COURTYARD, "colour": "red"}, "colour", ""),
    ],
)
def test_a_task_that_cannot_be_sent_is_refused_naming_the_field(body, field, words):
    answer = refused(body)
    assert answer.status == 422 and answer.errors[0].field == field and words in answer.errors[0].reason


def test_a_phone_accepts_and_finishes_its_tasks_and_a_dispatcher_cancels_them():
    accept = step("task-1", {"action": "accept"}, PHONE)
    assert (accept["device"], accept["actor"], accept["task"]) == ("dev-a", "dev-a", "task-1")
    done = step("task-1", {"action": "done", "note": "已登记", "report": "r-9", "id": "a-7"}, PHONE)
    assert (done["id"], done["note"], done["report"]) == ("a-7", "已登记", "r-9")
    cancel = step("task-1", {"action": "cancel", "note": "重复派发"}, C01)
    assert cancel["actor"] == "wang" and "device" not in cancel  # the view keys it by the task's stored device


@pytest.mark.parametrize(
    "body, who, status, field",
    [
        ({"action": "cancel"}, PHONE, 403, "action"),
        ({"action": "accept"}, STREET, 403, "action"),
        ({"action": "cancel"}, READER, 403, "Authorization"),
        ({"action": "done", "note": "x" * 3000}, PHONE, 422, "note"),
        (["accept"], PHONE, 422, "(body)"),
    ],
)
def test_a_step_out_of_turn_is_refused(body, who, status, field):
    with pytest.raises(Refused) as info:
        step("task-1", body, who)
    assert (info.value.status, info.value.errors[0].field) == (status, field)
