"""12345 work orders (接诉即办): what the city platform's adapter posts, and what the worker makes of it.

`redwall.hotline.v1` (keyed by order id) carries `HotlineOrder` and `HotlineEvent` records as posted;
`redwall.hotline-located.v1` (same key) carries `LocatedHotlineOrder` (the order placed in the street,
mapped to a Redwall category, with the limits it came under) and the events unchanged. An order's
records meet on one partition in the order they were posted.

The complainant's phone number never travels: the adapter sends it masked (`138****1234`) and as a
keyed hash (HMAC-SHA256 of its digits under the adapter's own key), which recognises a repeat caller
and nothing else.
"""

from __future__ import annotations

from schemas.fields import Array, Enum, FieldError, Num, Obj, Str, Time
from schemas.records import CATEGORIES, ID_PATTERN, PLACED_BY, SPAN_PATTERN, Record, TypedRecords, location_field

CHANNELS = ("phone", "web", "app")
APPEAL_TYPES = ("consultation", "help", "complaint", "report", "suggestion")  # 咨询 求助 投诉 举报 建议
URGENCIES = ("emergency", "utilities", "ordinary", "complex")  # 紧急 水电气热 一般 疑难
ORDER_EVENTS = ("contacted", "extended", "returned", "closed", "callback")
SATISFACTION = ("satisfied", "basically_satisfied", "not_satisfied")
CLOCKS = ("contact", "resolve")  # 先行联系 and 办结: the two limits every order runs against

# An order id with the prefix of the report it becomes ("12345-<id>") fits a report id's 64 characters.
ORDER_ID_MAX = 58
HOTLINE_DEVICE = "12345"  # the "device" of the reports orders become: never a grid's own report
REPORT_PREFIX = f"{HOTLINE_DEVICE}-"
# At most 8 digits in clear, and the rest starred: 138****1234, 010-****5678, ****.
MASKED_CONTACT = r"\+?[0-9]{0,4}-?\*{4,8}[0-9]{0,4}"
CONTACT_HASH = r"[0-9a-f]{64}"

_ORDER_ID = Str(
    "工单编号: the city platform's order id; a resend with the same id is the same order",
    max_len=ORDER_ID_MAX,
    pattern=ID_PATTERN,
)
_CATALOGUE_LEVEL = Obj(
    {"code": Str("the catalogue code", max_len=32, pattern=r"[A-Za-z0-9][A-Za-z0-9._-]*"), "name": Str(max_len=100)},
    "one level of the dispatch catalogue",
)

_ORDER_FIELDS = {
    "type": Enum("record type on redwall.hotline.v1", values=("order",)),
    "id": _ORDER_ID,
    "received_at": Time("when the hotline took the call or message (受理)"),
    "dispatched_at": Time("when the platform dispatched it to the street (派单): its clocks start here"),
    "channel": Enum("how the complainant reached the hotline", values=CHANNELS),
    "appeal_type": Enum("诉求类型: consultation, help, complaint, report, suggestion", values=APPEAL_TYPES),
    "catalogue": Array(
        _CATALOGUE_LEVEL, "派单目录: the three-level dispatch category, top level first", min_items=1, max_items=3
    ),
    "urgency": Enum("the urgency class that sets the time limit (config/hotline.toml)", values=URGENCIES),
    "content": Str("what the complainant said, as the platform recorded it", max_len=4000),
    "address": Str("the address as the platform recorded it", min_len=0, max_len=500),
    "location": location_field("where, when the platform has coordinates (WGS 84)", required=False),
    "platform_community": Str("the community the platform names: its Redwall id or name", max_len=64, required=False),
    "platform_grid": Str("the grid the platform names: its Redwall id or name", max_len=64, required=False),
    "lead_unit": Str("主办单位: the unit that must answer", max_len=200),
    "assisting_units": Array(Str(max_len=200), "协办单位", max_items=20, required=False),
    "contact_masked": Str("the complainant's phone, masked: 138****1234", max_len=24, pattern=MASKED_CONTACT),
    "contact_hash": Str(
        "HMAC-SHA256 of the complainant's phone digits under the adapter's key, lowercase hex",
        min_len=64,
        max_len=64,
        pattern=CONTACT_HASH,
    ),
}

HotlineOrder = Record("HotlineOrder", _ORDER_FIELDS, "A 12345 work order (工单) dispatched to the street.")

HotlineEvent = Record(
    "HotlineEvent",
    {
        "type": Enum("record type on redwall.hotline.v1", values=("event",)),
        "id": Str("client-generated; a resend with the same id is the same event", max_len=64, pattern=ID_PATTERN),
        "order": _ORDER_ID,
        "kind": Enum(
            "contacted: 先行联系; extended: 延期 granted; returned: 退单 (not ours); closed: 办结 with the result; "
            "callback: the hotline's 回访",
            values=ORDER_EVENTS,
        ),
        "time": Time("when it happened"),
        "actor": Str("who: a person or unit", max_len=64, required=False),
        "note": Str("free text", min_len=0, max_len=2000, required=False),
        "new_limit": Time("extended: the new resolve-by time", required=False),
        "returned_to": Str("returned: the unit the order belongs to", max_len=200, required=False),
        "result": Str("closed: the result as told to the complainant", max_len=2000, required=False),
        "resolved": Enum("callback: the complainant says it is resolved", values=("yes", "no"), required=False),
        "satisfaction": Enum("callback: 满意 / 基本满意 / 不满意", values=SATISFACTION, required=False),
    },
    "Something that happened to a 12345 order; keyed by the order id on redwall.hotline.v1.",
)

# The fields each kind of event must carry beyond the common ones.
EVENT_NEEDS = {
    "contacted": (),
    "extended": ("new_limit",),
    "returned": ("returned_to",),
    "closed": ("result",),
    "callback": ("resolved", "satisfaction"),
}


def check_event(event: dict) -> dict:
    """A validated HotlineEvent that also carries what its kind needs; FieldError naming the first missing."""
    for name in EVENT_NEEDS[event["kind"]]:
        if name not in event:
            raise FieldError(name, f"is required for a {event['kind']} event")
    return event


LocatedHotlineOrder = Record(
    "LocatedHotlineOrder",
    {
        **_ORDER_FIELDS,
        "street": Str("street id", max_len=64),
        "community": Str("Redwall community id, or `unlocated` for the street's queue", max_len=64),
        "grid": Str("Redwall grid id", max_len=64, required=False),
        "courtyard": Str("Redwall courtyard (院落) id, when placed by a point inside one", max_len=64, required=False),
        "cell": Str("H3 cell of the point it was placed at (location or address), hex", max_len=16, required=False),
        "point": Obj(
            {"lat": Num(minimum=-90, maximum=90), "lng": Num(minimum=-180, maximum=180)},
            "the point it was placed at: its location, its address's, or its area's centre",
            required=False,
        ),
        "placed_by": Enum("how the place was found", values=PLACED_BY),
        "category": Enum("the Redwall category its catalogue code maps to", values=CATEGORIES),
        "report": Str("the LocatedReport id it became on redwall.located-reports.v1 (12345-<id>)", max_len=64),
        "limits": Obj(
            {
                "contact_by": Time("先行联系 limit"),
                "resolve_by": Time("办结 limit, as dispatched (an extension moves it: see its events)"),
                "warn_at": Num("early warning at this share of a limit", minimum=0, maximum=1),
                "rules": Str("the limits file's version they came from (sha256, first 12 hex)", max_len=64),
                "contact_limit": Str(
                    "先行联系 limit as written (2h; wh, wd: working time)",
                    pattern=SPAN_PATTERN,
                    max_len=16,
                    required=False,
                ),
                "resolve_limit": Str(
                    "办结 limit as written: an extension's warning counts in its measure",
                    pattern=SPAN_PATTERN,
                    max_len=16,
                    required=False,
                ),
                "contact_warn_at": Time("先行联系 early warning: warn_at of the limit, in its measure", required=False),
                "resolve_warn_at": Time("办结 early warning, as dispatched", required=False),
            },
            "the limits the order was received under: a changed file applies to new orders only",
        ),
    },
    "A 12345 order placed in the street; keyed by order id on redwall.hotline-located.v1.",
)


def hotline_records(order: Record = HotlineOrder) -> TypedRecords:
    """Either record of a hotline topic: `order` is HotlineOrder on redwall.hotline.v1, LocatedHotlineOrder
    on redwall.hotline-located.v1; an event also carries what its kind needs."""
    return TypedRecords(
        f"{order.name}|HotlineEvent",
        {"order": order, "event": HotlineEvent},
        lambda found: check_event(found) if found["type"] == "event" else found,
    )


HOTLINE_RECORDS = (HotlineOrder, HotlineEvent, LocatedHotlineOrder)
