"""Tasks to a person (任务): a dispatcher or grid leader sends one worker to a courtyard or a point, the
worker's phone answers, and the worker's own GPS confirms the arrival.

`redwall.task-actions.v1` carries `TaskAction` records: `create`, `accept`, `done` and `cancel` keyed by the
assignee's device, so a task's actions meet on the partition of that device's positions (the worker's
tasks agent and its patrol agent own the same partition numbers of topics with equal partition counts);
`assign` (a 生脸 report waiting for the worker on duty) keyed by the report's grid.
`redwall.tasks.v1` (keyed by the device) carries `TaskEvent`: each transition with the task's whole state.
"""

from __future__ import annotations

from schemas.fields import Enum, Num, Obj, Str, Time
from schemas.records import ID_PATTERN, SPAN_PATTERN, Record, location_field

KINDS = ("register_resident", "verify_report", "visit_courtyard", "other")  # 生脸登记 核实上报 入院走访 其他
TASK_ACTIONS = ("create", "accept", "done", "cancel", "assign")
TASK_EVENTS = ("created", "accepted", "arrived", "done", "cancelled", "warned", "late", "refused")
TASK_STATUSES = ("open", "accepted", "arrived", "done", "cancelled")
CLOSED = ("done", "cancelled")
DEADLINES = ("arrive", "done")  # 到场时限, 完成时限
TASK_ID_PATTERN = r"task-[A-Za-z0-9_.:-]+"

_WHO = Obj(
    {
        "subject": Str("the dispatcher's id, or the grid leader's device", max_len=64),
        "role": Str("dispatcher role (community, street) or grid_chief for a grid leader's phone", max_len=32),
        "community": Str("the community a community dispatcher or grid leader belongs to", max_len=64, required=False),
    },
    "who created the task: late alerts go to them through the routing tree",
)


def _place(*, required: bool) -> dict:
    """Where the task sends the worker: a courtyard, a point with a radius, or both (a courtyard's centre)."""
    return {
        "street": Str("street id", max_len=64, required=False),
        "community": Str("community id", max_len=64, required=False),
        "grid": Str("grid id", max_len=64, required=False),
        "courtyard": Str("the courtyard (院落) to go to: fixes inside it arrive", max_len=64, required=False),
        "location": location_field(
            "the point to go to (a courtyard's centre when only it is named)", required=required
        ),
        "radius_m": Num(
            "fixes this close to `location` arrive, widened by their accuracy",
            minimum=1,
            maximum=1000,
            required=required,
        ),
    }


TaskAction = Record(
    "TaskAction",
    {
        "id": Str("client-generated unique id; a resend with the same id is the same action", max_len=64),
        "action": Enum("what is done", values=TASK_ACTIONS),
        "task": Str("the task's id", max_len=80, pattern=TASK_ID_PATTERN),
        "actor": Str("who acts: a dispatcher id or a device", max_len=64, pattern=ID_PATTERN),
        "time": Time("when the person acted"),
        # create
        "device": Str("create: the worker's device the task is for", max_len=64, pattern=ID_PATTERN, required=False),
        "kind": Enum("create: what to do", values=KINDS, required=False),
        "note": Str("create: what to do, in words; done: what was done", max_len=2000, required=False),
        "arrive_within": Str(
            "create: time to arrive (30m calendar, 2wh working)", max_len=16, pattern=SPAN_PATTERN, required=False
        ),
        "done_within": Str("create: time to finish", max_len=16, pattern=SPAN_PATTERN, required=False),
        "creator": _WHO.__class__(_WHO.fields, _WHO.doc, required=False),
        "incident": Str("create: the incident the task serves", max_len=128, required=False),
        "report": Str("create: the report it serves; done: the report filed for it", max_len=64, required=False),
        **_place(required=False),
        # assign (a 生脸 report): the worker is chosen by the roster
        "reported_at": Time("assign: when the report was made", required=False),
    },
    "A person's step on a task; on redwall.task-actions.v1.",
)

TaskState = Obj(
    {
        "id": Str(max_len=80, pattern=TASK_ID_PATTERN),
        "kind": Enum(values=KINDS),
        "status": Enum(values=TASK_STATUSES),
        "device": Str("the worker's device", max_len=64),
        "creator": _WHO,
        "note": Str(max_len=2000, min_len=0),
        **_place(required=True),
        "incident": Str(max_len=128, required=False),
        "report": Str(max_len=64, required=False),
        "created_at": Time(),
        "limits": Obj({d: Str(max_len=16, pattern=SPAN_PATTERN) for d in DEADLINES}, "the limits as written"),
        "arrive_by": Time("the arrival deadline"),
        "done_by": Time("the completion deadline"),
        "accepted_at": Time(required=False),
        "arrived_at": Time("the first fix of the dwell that confirmed the arrival", required=False),
        "arrive_seconds": Num("time to arrive: from created_at to arrived_at", minimum=0, maximum=1e9, required=False),
        "done_at": Time(required=False),
        "done_note": Str(max_len=2000, min_len=0, required=False),
        "done_report": Str(max_len=64, required=False),
        "unconfirmed": Enum("yes: marked done with no arrival confirmed by GPS", values=("yes", "no")),
        "late": Obj({d: Time(required=False) for d in DEADLINES}, "deadlines passed unmet, and when"),
        "warned": Obj({d: Time(required=False) for d in DEADLINES}, "deadlines warned for, and when they fall"),
        "seq": Num(minimum=0, maximum=1e9),
    },
    "A task as it stands after an event.",
)

TaskEvent = Record(
    "TaskEvent",
    {
        "id": Str("deterministic: <task>:<seq>, or <task>:refused:<action id>", max_len=200),
        "task": Str(max_len=80, pattern=TASK_ID_PATTERN),
        "seq": Num(minimum=0, maximum=1e9),
        "event": Enum(values=TASK_EVENTS),
        "when": Time("when it happened: the action's time, the fix's time, the deadline"),
        "device": Str(max_len=64),
        "actor": Str("who caused it: a person, the device's GPS, or the clock", max_len=64),
        "action": Str("the action's id, for actions", max_len=64, required=False),
        "reason": Str("refused: why, in Chinese; warned, late: which deadline", max_len=500, required=False),
        "state": TaskState.__class__(TaskState.fields, TaskState.doc, required=False),
    },
    "One task transition (audit trail); keyed by the device on redwall.tasks.v1. A refused action carries no "
    "state when the task is unknown.",
)

TASK_RECORDS = (TaskAction, TaskEvent)
