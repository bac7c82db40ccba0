"""Redwall's event records: what devices send and what the pipeline emits, declared once.

A record instance is a plain dict that passed `Record.validate`; the declarations below are
the contract, exported as JSON Schema by `redwall schemas export`.
"""

from __future__ import annotations

from schemas import json
from schemas.fields import Array, Enum, FieldError, Num, Obj, Str, Time

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.:-]*"

CATEGORIES = (
    "sanitation",  # 环境卫生
    "illegal_construction",  # 违法建设 / 开墙打洞
    "group_renting",  # 群租
    "underground_space",  # 地下空间
    "safety_hazard",  # 安全隐患
    "dispute",  # 矛盾纠纷
    "facility_damage",  # 设施损坏
    "illegal_parking",  # 违章停车
    "new_resident",  # 生脸登记
    "hotline_12345",  # 12345 热线
    "public_sentiment",  # 民情日志
    "other",
)
SEVERITIES = ("low", "medium", "high", "critical")


class Record(Obj):
    """A top-level record: a named object that can decode and validate raw bytes."""

    def __init__(self, name: str, fields, doc: str):
        super().__init__(fields, doc)
        self.name = name

    def validate(self, value) -> dict:
        return self.check(value, "")

    def decode(self, data: bytes) -> dict:
        """Parse and validate one record; raises FieldError naming the field and the reason."""
        try:
            value = json.loads(data)
        except json.JSONDecodeError as exc:
            raise FieldError("(body)", f"is not valid JSON: {exc}") from None
        return self.check(value, "")

    def json_schema(self) -> dict:
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://redwall.example/schemas/{self.name}.json",
            "title": self.name,
            **self.schema(),
        }


def location_field(doc: str, *, required: bool = True) -> Obj:
    return Obj(
        {
            "lat": Num("latitude, WGS 84 degrees", minimum=-90, maximum=90),
            "lng": Num("longitude, WGS 84 degrees", minimum=-180, maximum=180),
            "accuracy": Num("horizontal accuracy radius in metres", minimum=0, maximum=100_000, required=False),
        },
        doc,
        required=required,
    )


_PLACE = {
    "street": Str("street id, null when outside every street", required=False, max_len=64),
    "community": Str("community id", required=False, max_len=64),
    "grid": Str("management grid id", required=False, max_len=64),
    "courtyard": Str("courtyard (院落) id; absent when the point is in no courtyard", required=False, max_len=64),
}

_REPORT_FIELDS = {
    "id": Str(
        "client-generated unique id; a resend with the same id is the same report", max_len=64, pattern=ID_PATTERN
    ),
    "device": Str("reporting device id", max_len=64, pattern=ID_PATTERN),
    "category": Enum("what kind of matter this is", values=CATEGORIES),
    "severity": Enum("how serious the reporter judges it", values=SEVERITIES),
    "text": Str("free-text description", min_len=0, max_len=4000),
    "location": location_field("where the matter is"),
    "event_time": Time("when it was observed"),
    "photos": Array(Str(max_len=512), "references to uploaded photos", max_items=10, required=False),
}

FieldReport = Record("FieldReport", _REPORT_FIELDS, "A field report (网格事件) filed from a worker's phone.")

Ping = Obj(
    {
        "lat": Num("latitude, WGS 84 degrees", minimum=-90, maximum=90),
        "lng": Num("longitude, WGS 84 degrees", minimum=-180, maximum=180),
        "accuracy": Num("horizontal accuracy radius in metres", minimum=0, maximum=100_000),
        "time": Time("when the fix was taken"),
        "speed": Num("metres per second", minimum=0, maximum=1000, required=False),
        "heading": Num("degrees clockwise from north", minimum=0, maximum=360, required=False),
        "battery": Num("battery level in percent", minimum=0, maximum=100, required=False),
    },
    "One GPS fix.",
)


def ping_batch(max_pings: int) -> Record:
    return Record(
        "PingBatch",
        {
            "device": Str("the device that took every ping in the batch", max_len=64, pattern=ID_PATTERN),
            "pings": Array(Ping, "fixes in the order taken", min_items=1, max_items=max_pings),
        },
        "Many GPS pings of one device, uploaded together; one Kafka record, keyed by device.",
    )


PingBatch = ping_batch(1000)

# How a report's place was found; only a point (its own, or its address's) says where the matter is.
PLACED_BY = ("location", "address", "grid", "community", "unlocated")
POINT_PLACED = ("location", "address")

LocatedReport = Record(
    "LocatedReport",
    {
        **_REPORT_FIELDS,
        **_PLACE,
        "cell": Str("H3 cell of the location, hex", max_len=16),
        # A 12345 work order becomes a report too (streams/hotline/): these say which and how it was placed.
        "order": Str("the 12345 work order this report stands for", max_len=64, required=False),
        "placed_by": Enum(
            "how the place was found: a point joins nearby incidents, an area only names the owner",
            values=PLACED_BY,
            required=False,
        ),
    },
    "A field report with the street, community, grid and courtyard it falls in (null ids: outside the street).",
)

LocatedPing = Obj({**Ping.fields, **_PLACE}, "A ping with the street, community, grid and courtyard it falls in.")

PositionBatch = Record(
    "PositionBatch",
    {
        "device": PingBatch.fields["device"],
        "pings": Array(LocatedPing, "geofenced fixes", min_items=1, max_items=100_000),
    },
    "A geofenced PingBatch, published to the positions topic.",
)

DeadLetter = Record(
    "DeadLetter",
    {
        "reason": Str("why the record was refused", max_len=1000),
        "errors": Array(
            Obj({"field": Str(max_len=256), "reason": Str(max_len=1000)}), "field-level errors", max_items=100
        ),
        "source_topic": Str("topic the record came from"),
        "partition": Num("its partition", minimum=0, maximum=1e6),
        "offset": Num("its offset", minimum=0, maximum=1e18),
        "key_b64": Str("the original key, base64", min_len=0, max_len=10_000_000, required=False),
        "value_b64": Str("the original bytes, base64", min_len=0, max_len=100_000_000),
        "failed_at": Time("when it was refused"),
    },
    "A record the pipeline could not accept, with the reason and the original bytes.",
)

LEVELS = ("grid", "community", "street", "district")  # district: beyond the ceiling, flagged
ALERT_KINDS = (
    "incident_opened",  # a new incident someone must take on
    "incident_escalated",  # moved up a level (deadline missed, request, cluster, sensitive zone)
    "deadline_breached",  # 超时督办: to the old owner when the incident moves up
    "incident_reopened",
    "ceiling_exceeded",  # escalated beyond the street: the principle says it should not happen
    "off_post",
    "offline",
    "coverage_gap",
    "patrol_advisory",  # 前响应: hot spot, go and patrol it
    "incident_assigned",  # reassigned by a person: the new owner must act
    "hotline_warning",  # a 12345 order's clock is near its limit (e.g. 80 % gone)
    "hotline_breached",  # a 12345 order's limit passed with the step not done
    "weekly_report",  # the street's weekly 专报 is made: said once, never as a reminder
    "deadline_warning",  # 预警: an incident's deadline is near (e.g. 80 % of its time gone)
    "approval_requested",  # a pause, extension or return waits for a street dispatcher's approve
    "task_warning",  # a task's arrival or completion deadline is near
    "task_late",  # a task's worker has not arrived, or not finished, by its deadline: to the task's creator
)
NOTICE_KINDS = ("weekly_report", "task_warning")  # alerts that inform: a first notice only, no reminder
PRIORITIES = ("normal", "high", "top")  # top: pages even in quiet hours

_BILINGUAL = {"zh": Str("Chinese text", max_len=4000), "en": Str("English text", max_len=4000)}

Alert = Record(
    "Alert",
    {
        "id": Str("deterministic: the same transition always yields the same id", max_len=128, pattern=ID_PATTERN),
        "kind": Enum("what happened", values=ALERT_KINDS),
        "status": Enum("firing, or resolved (the condition cleared)", values=("firing", "resolved")),
        "level": Enum("the level that owns it now", values=LEVELS),
        "owner": Str("who must act: a grid, community or street id (`level` says which)", max_len=64),
        "street": Str("street id", max_len=64),
        "community": Str("community id, for routing and the console's filter", max_len=64, required=False),
        "grid": Str("grid id", max_len=64, required=False),
        "incident": Str("incident id", max_len=128, required=False),
        "order": Str("12345 work order id (hotline alerts)", max_len=64, required=False),
        "task": Str("task id (task alerts)", max_len=80, required=False),
        "category": Enum("report category of the incident", values=CATEGORIES, required=False),
        "severity": Enum("severity", values=SEVERITIES),
        "priority": Enum("delivery priority", values=PRIORITIES),
        "title": Obj(_BILINGUAL, "one line, Chinese and English"),
        "body": Obj(_BILINGUAL, "details, Chinese and English"),
        "devices": Array(
            Str(max_len=64), "devices concerned (patrol alerts group them per grid)", max_items=1000, required=False
        ),
        "link": Str(
            "where to read more: an http(s) URL, or a path on the console (weekly reports)",
            max_len=2000,
            pattern=r"(https?://|/)[^\s]*",
            required=False,
        ),
        "event_time": Time("when the transition happened; an old one is stored but pages nobody"),
        "created_at": Time("when the alert record was made"),
    },
    "Someone must act: published to redwall.alerts.v1, delivered by the routing consumers.",
)

# The community of an incident whose report lies outside every street: the street's dispatchers place it.
UNLOCATED = "unlocated"
# inc-<community>-<hash>: the community names the street whose key the incident's records carry
INCIDENT_ID_PATTERN = r"inc-[A-Za-z0-9_.]+-[0-9a-f]{12}"
ACTIONS = (
    "ack",
    "resolve",
    "reopen",
    "request_escalation",
    "reassign",
    "close_duplicate",
    "pause",  # 挂起: the clocks stop, with a typed reason
    "resume",  # 恢复: the clocks run again
    "extend",  # 延期: a longer resolve limit, once approved
    "return",  # 退回: not ours, with the unit it belongs to, once approved
    "approve",  # a street dispatcher approves a pause, extension or return (`request`: its action id)
    "deny",  # ... or refuses it
)
# Why a case waits (挂起): for the resident, another department, the weather, a legal procedure, or other
# (the action's `reason` says what).
PAUSE_REASONS = ("resident", "department", "weather", "legal", "other")
REQUESTS = ("pause", "extend", "return")  # what an approve or deny answers
# A limit: calendar time (s, m, h, d) or working time (wh working hours, wd working days), e.g. "4h", "7wd".
SPAN_PATTERN = r"[0-9]+(\.[0-9]+)?(s|m|h|d|wh|wd)"

IncidentAction = Record(
    "IncidentAction",
    {
        "id": Str(
            "client-generated unique id; a resend with the same id is the same action", max_len=64, pattern=ID_PATTERN
        ),
        "incident": Str("the incident acted on", max_len=128, pattern=INCIDENT_ID_PATTERN),
        "action": Enum("what the person does", values=ACTIONS),
        "actor": Str("who acts: a person or team id", max_len=64),
        "reason": Str("why, in the actor's words", max_len=2000),
        "time": Time("when the person acted"),
        "owner": Str("reassign: the new owner (a grid, community or street id)", max_len=64, required=False),
        "duplicate_of": Str(
            "close_duplicate: the incident this one duplicates",
            max_len=128,
            pattern=INCIDENT_ID_PATTERN,
            required=False,
        ),
        "pause_reason": Enum("pause: why the case waits", values=PAUSE_REASONS, required=False),
        "limit": Str(
            'extend: the new resolve limit from the clock\'s start, longer than the one it replaces ("10wd")',
            max_len=16,
            pattern=SPAN_PATTERN,
            required=False,
        ),
        "unit": Str("return: the unit (department) the case belongs to", max_len=200, required=False),
        "request": Str(
            "approve, deny: the id of the pause, extend or return action answered",
            max_len=64,
            pattern=ID_PATTERN,
            required=False,
        ),
    },
    "A person's action on an incident; keyed by the street of the incident's community on redwall.actions.v1.",
)

EngineControl = Record(
    "EngineControl",
    {
        "control": Enum(
            "tick: advance simulated time (REDWALL_CLOCK=event only); major_event: a period starts",
            values=("tick", "major_event"),
        ),
        "time": Time("tick: the new time; major_event: when the command was given"),
        "period": Obj(
            {
                "id": Str(max_len=64, pattern=ID_PATTERN),
                "name": Str(max_len=200),
                "start": Time(),
                "end": Time(),
                "deadline_factor": Num("deadlines are multiplied by this", minimum=0.01, maximum=1),
            },
            "major_event: the period switched on",
            required=False,
        ),
    },
    "A control record on redwall.actions.v1, sent to every partition (e.g. by `redwall major-event start`).",
)

INCIDENT_EVENTS = (
    "opened",
    "report_merged",
    "assigned",
    "acknowledged",
    "escalated",
    "deadline_missed",
    "resolved",
    "reopened",
    "closed",
    "action_rejected",
    "paused",  # 挂起
    "resumed",  # 恢复计时
    "requested",  # an extension or return waits for approval
    "approved",  # a pause approved: it counts however long it lasts
    "denied",  # a pause, extension or return refused by the street
    "extended",  # an extension approved: the resolve limit is the new one
    "returned",  # a return approved: closed as not ours
    "warned",  # 预警: a deadline is near
)
INCIDENT_STATUSES = ("assigned", "acknowledged", "resolved", "closed")
_LIMIT_PAIR = Obj(
    {"acknowledge": Str(max_len=16, pattern=SPAN_PATTERN), "resolve": Str(max_len=16, pattern=SPAN_PATTERN)},
    required=False,
)

IncidentState = Obj(
    {
        "status": Enum(values=INCIDENT_STATUSES),
        "level": Enum(values=LEVELS),
        "owner": Str(max_len=64),
        "priority": Enum(values=PRIORITIES),
        "opened_at": Time(),
        "ack_by": Time(required=False),
        "resolve_by": Time(required=False),
        "reports": Num("reports merged into the incident, the first included", minimum=1, maximum=1e9),
        "last_report_at": Time(),
        "cluster_cell": Str("H3 cell of the clustering neighbourhood", max_len=16),
        "flags": Array(
            Enum(values=("sensitive_zone", "cluster_escalated", "ceiling_exceeded", "returned")), max_items=4
        ),
        "missed": Obj(
            {"acknowledge": Time(required=False), "resolve": Time(required=False)},
            "deadlines missed with no level left to escalate to: overdue (超时) since then",
            required=False,
        ),
        # The clocks' inputs: ack_by and resolve_by above are computed from these and the working calendar
        # (streams/escalation/clocks.py), so a replay or a rebuilt worker computes the same deadlines.
        "rules": Str("the escalation rules' version the incident was opened under", max_len=32, required=False),
        "limits": Obj(
            {level: _LIMIT_PAIR for level in LEVELS},
            "the limits per level it runs under, fixed when it was opened (a changed rule applies to new ones)",
            required=False,
        ),
        "clock": Obj(
            {
                "since": Time("when the current level's clocks started (opened, escalated, reassigned, reopened)"),
                "factor": Num("the major-event factor the limits are multiplied by", minimum=0.01, maximum=1),
                "extended": Str(
                    "the resolve limit an approved extension set", max_len=16, pattern=SPAN_PATTERN, required=False
                ),
                "paused": Array(
                    Obj({"from": Time(), "to": Time()}),
                    "ended pauses since `since`, the part that counted",
                    max_items=1000,
                ),
            },
            "the current clocks",
            required=False,
        ),
        "pause": Obj(
            {
                "since": Time("when it was paused"),
                "reason": Enum(values=PAUSE_REASONS),
                "action": Str("the pause action's id (what approve names)", max_len=64),
                "actor": Str(max_len=64),
                "approved_by": Str("who approved it: it then counts however long it lasts", max_len=64, required=False),
                "counts_until": Time(
                    "unapproved: the clocks stop only until here (`[pause] approve_after`)", required=False
                ),
            },
            "an open pause (挂起)",
            required=False,
        ),
        "requests": Array(
            Obj(
                {
                    "action": Str("the requesting action's id", max_len=64),
                    "kind": Enum(values=REQUESTS),
                    "actor": Str(max_len=64),
                    "at": Time(),
                    "limit": Str(max_len=16, pattern=SPAN_PATTERN, required=False),
                    "unit": Str(max_len=200, required=False),
                }
            ),
            "waiting for a street dispatcher's approve or deny",
            max_items=50,
            required=False,
        ),
        "warned": Obj(
            {"acknowledge": Time(required=False), "resolve": Time(required=False)},
            "the deadline each early warning (预警) went out for: a moved deadline warns again",
            required=False,
        ),
        "remaining": Obj(
            {
                "acknowledge": Num(minimum=-1e10, maximum=1e10, required=False),
                "resolve": Num(minimum=-1e10, maximum=1e10, required=False),
            },
            "while paused: the seconds left of each limit, in its own measure (working or calendar time)",
            required=False,
        ),
    },
    "The incident after the transition: enough to rebuild open incidents and deadlines from the topic.",
)

IncidentEvent = Record(
    "IncidentEvent",
    {
        # 128 (incident) + 10 + 64 (action id): any action the API accepts has an event the sink can store.
        "id": Str(
            "deterministic: <incident>:<seq>, or <incident>:rejected:<action id>", max_len=256, pattern=ID_PATTERN
        ),
        "incident": Str(max_len=128, pattern=INCIDENT_ID_PATTERN),
        "seq": Num("position in the incident's history, from 1", minimum=0, maximum=1e9),
        "kind": Enum("what happened", values=INCIDENT_EVENTS),
        "when": Time("when it happened (a missed deadline: the deadline itself)"),
        "actor": Str("who: a person, or `system` for rules", max_len=64),
        "reason": Str("why, in words", max_len=2000),
        "reason_code": Str(
            "why, as a bounded code (report, cluster, sensitive_zone, deadline_acknowledge, ...)", max_len=64
        ),
        "from_level": Enum(values=LEVELS, required=False),
        "to_level": Enum(values=LEVELS, required=False),
        # Place, category, severity and state are absent only on an action rejected for an unknown incident.
        # community: up to 111 from an incident id on an action refused for an unknown incident.
        "street": Str(max_len=64, required=False),
        "community": Str(max_len=128),
        "grid": Str(max_len=64, required=False),
        "courtyard": Str("the courtyard (院落) of the report that opened it, if in one", max_len=64, required=False),
        "category": Enum(values=CATEGORIES, required=False),
        "severity": Enum(values=SEVERITIES, required=False),
        "report": Str("the report that opened or joined the incident", max_len=64, required=False),
        "action": Str("the action that caused it", max_len=64, required=False),
        "ceiling": Enum("yes: escalated beyond the street (flagged for the weekly report)", values=("yes", "no")),
        "state": IncidentState.__class__(IncidentState.fields, IncidentState.doc, required=False),
    },
    "One incident transition (audit trail); keyed by street on redwall.incidents.v1.",
)

ALL_RECORDS = (
    FieldReport,
    PingBatch,
    LocatedReport,
    PositionBatch,
    DeadLetter,
    Alert,
    IncidentAction,
    EngineControl,
    IncidentEvent,
)

_FIX = Obj(
    {
        "time": Time("when the fix was taken"),
        "lat": Num("latitude, WGS 84 degrees", minimum=-90, maximum=90),
        "lng": Num("longitude, WGS 84 degrees", minimum=-180, maximum=180),
        "accuracy": Num("horizontal accuracy radius in metres", minimum=0, maximum=100_000),
    },
    "A good GPS fix (one that passed the quality checks).",
)
PATROL_STATUSES = ("off_duty", "unknown", "on_post", "off_post", "offline")

PatrolStatusChanged = Record(
    "PatrolStatusChanged",
    {
        "type": Enum("record type on redwall.patrol.v1", values=("status",)),
        "id": Str("deterministic: <device>:<status>:<time>", max_len=200, pattern=ID_PATTERN),
        "device": Str("the patrol member's device", max_len=64, pattern=ID_PATTERN),
        "grid": Str("the assigned grid", max_len=64),
        "status": Enum("the new status", values=PATROL_STATUSES),
        "previous": Enum("the status before", values=PATROL_STATUSES),
        "reason": Str(
            "why: shift_started, first_fix_inside, outside_grid, back_inside, silent, back_online, shift_ended",
            max_len=64,
        ),
        "event_time": Time("when it happened: a deadline (grace, dwell, silence) or a fix's time"),
        "current_grid": Str("where the last good fix lies (absent: outside every grid)", max_len=64, required=False),
        "fix": _FIX.__class__(_FIX.fields, _FIX.doc, required=False),
    },
    "A patrol member's status changed; keyed by the assigned grid on redwall.patrol.v1.",
)

GpsFlagged = Record(
    "GpsFlagged",
    {
        "type": Enum("record type on redwall.patrol.v1", values=("gps_flags",)),
        "device": Str("the device", max_len=64, pattern=ID_PATTERN),
        "flags": Array(
            Obj(
                {
                    "time": Time("the fix's time"),
                    "reason": Enum(
                        "why it must not drive a decision",
                        values=("future", "stale", "duplicate", "out_of_order", "poor_accuracy", "impossible_speed"),
                    ),
                }
            ),
            "fixes refused by the GPS quality checks",
            min_items=1,
            max_items=100_000,
        ),
    },
    "Fixes of one device that are stored but never drive a patrol decision; on redwall.patrol.v1.",
)


class TypedRecords:
    """Decodes any of the records a topic carries, told apart by their `type`; `check` runs on the record
    validated (checks that span fields)."""

    def __init__(self, name: str, by_type: dict[str, Record], check=lambda record: record):
        self.name, self.by_type, self.check = name, by_type, check

    def decode(self, data: bytes) -> dict:
        try:
            value = json.loads(data)
        except json.JSONDecodeError as exc:
            raise FieldError("(body)", f"is not valid JSON: {exc}") from None
        record = self.by_type.get(value.get("type")) if isinstance(value, dict) else None
        if record is None:
            raise FieldError("type", f"must be one of {', '.join(self.by_type)}")
        return self.check(record.validate(value))


# Either record of redwall.patrol.v1.
PatrolRecord = TypedRecords("PatrolRecord", {"status": PatrolStatusChanged, "gps_flags": GpsFlagged})

ALL_RECORDS += (PatrolStatusChanged, GpsFlagged)
