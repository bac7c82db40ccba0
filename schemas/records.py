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


def _location(doc: str) -> Obj:
    return Obj(
        {
            "lat": Num("latitude, WGS 84 degrees", minimum=-90, maximum=90),
            "lng": Num("longitude, WGS 84 degrees", minimum=-180, maximum=180),
            "accuracy": Num("horizontal accuracy radius in metres", minimum=0, maximum=100_000, required=False),
        },
        doc,
    )


_PLACE = {
    "street": Str("street id, null when outside every street", required=False, max_len=64),
    "community": Str("community id", required=False, max_len=64),
    "grid": Str("management grid id", required=False, max_len=64),
}

_REPORT_FIELDS = {
    "id": Str("client-generated unique id; a resend with the same id is the same report", max_len=64, pattern=ID_PATTERN),
    "device": Str("reporting device id", max_len=64, pattern=ID_PATTERN),
    "category": Enum("what kind of matter this is", values=CATEGORIES),
    "severity": Enum("how serious the reporter judges it", values=SEVERITIES),
    "text": Str("free-text description", min_len=0, max_len=4000),
    "location": _location("where the matter is"),
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

LocatedReport = Record(
    "LocatedReport",
    {**_REPORT_FIELDS, **_PLACE, "cell": Str("H3 cell of the location, hex", max_len=16)},
    "A field report with the street, community and grid it falls in (null ids: outside the street).",
)

LocatedPing = Obj({**Ping.fields, **_PLACE}, "A ping with the street, community and grid it falls in.")

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
)
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
        "category": Enum("report category of the incident", values=CATEGORIES, required=False),
        "severity": Enum("severity", values=SEVERITIES),
        "priority": Enum("delivery priority", values=PRIORITIES),
        "title": Obj(_BILINGUAL, "one line, Chinese and English"),
        "body": Obj(_BILINGUAL, "details, Chinese and English"),
        "devices": Array(Str(max_len=64), "devices concerned (patrol alerts group them per grid)", max_items=1000,
                         required=False),
        "event_time": Time("when the transition happened; an old one is stored but pages nobody"),
        "created_at": Time("when the alert record was made"),
    },
    "Someone must act: published to redwall.alerts.v1, delivered by the routing consumers.",
)

ALL_RECORDS = (FieldReport, PingBatch, LocatedReport, PositionBatch, DeadLetter, Alert)
