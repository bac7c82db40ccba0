"""12345 work orders from TOML (config/hotline.toml), checked at start-up: limits per urgency class, the
catalogue-to-category map, the address table for placing orders without coordinates, 前响应, the rates'
counting rules and weights, 每月一题 and retention. Every error names the file, the key and the fix.

A limit is calendar time (`2h`, `7d`) or working time (`7wd`, `4wh`), counted by the street's working
calendar (config/calendar.py). An order's limits and its early warnings (临期预警, at `warn_at` of each
limit's time in the limit's own measure) are computed once, at dispatch, and kept with the order."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from config.calendar import NotCovered, WorkingCalendar
from config.files import TomlChecker, read_toml
from config.settings import HOTLINE
from config.spans import Span, parse_span
from schemas.hotline import URGENCIES
from schemas.records import CATEGORIES, SEVERITIES

FALLBACK_CATEGORY = "hotline_12345"
RATES = ("response", "resolution", "satisfaction")


@dataclass(frozen=True)
class Limits:
    """The limits one order runs against and their early warnings, fixed when it is dispatched."""

    contact_by: datetime
    resolve_by: datetime
    warn_at: float
    rules: str
    contact: Span  # the limits as written: their measure counts an extension's warning too
    resolve: Span
    contact_warn_at: datetime
    resolve_warn_at: datetime

    def as_record(self) -> dict:
        return {
            "contact_by": self.contact_by.isoformat(),
            "resolve_by": self.resolve_by.isoformat(),
            "warn_at": self.warn_at,
            "rules": self.rules,
            "contact_limit": self.contact.text,
            "resolve_limit": self.resolve.text,
            "contact_warn_at": self.contact_warn_at.isoformat(),
            "resolve_warn_at": self.resolve_warn_at.isoformat(),
        }


@dataclass(frozen=True)
class HotlineConfig:
    path: Path
    version: str  # sha256 of the settings read (not of comments), first 12 hex: which limits an order came under
    contact: Span
    warn_at: float
    resolve: Mapping[str, Span]  # urgency -> limit
    severity: Mapping[str, str]  # urgency -> severity of the incident
    categories: Mapping[str, str]  # catalogue code prefix -> category
    addresses: Mapping[str, tuple[float, float]]  # normalised address -> (lat, lng)
    precursor_days: int
    precursor_radius_m: float
    weights: Mapping[str, float]  # response, resolution, satisfaction
    basically_satisfied: float
    min_n: int
    exclude_returned: bool
    topic_months: int
    topic_z: float
    topic_min_count: int
    keep_orders: timedelta
    keep_contact_hash: timedelta

    def limits(self, urgency: str, dispatched_at: datetime, calendar: WorkingCalendar) -> Limits:
        """The limits of an order of `urgency` dispatched at `dispatched_at`, counted on `calendar`."""
        contact, resolve = self.contact, self.resolve[urgency]

        def at(span: Span) -> datetime:  # in the dispatch's offset, as a calendar limit always was
            return calendar.deadline(dispatched_at, span).astimezone(dispatched_at.tzinfo)

        return Limits(
            at(contact),
            at(resolve),
            self.warn_at,
            self.version,
            contact,
            resolve,
            at(contact * self.warn_at),
            at(resolve * self.warn_at),
        )

    def category(self, code: str) -> str:
        """The category of a catalogue code: its longest listed prefix's, else FALLBACK_CATEGORY."""
        for end in range(len(code), 0, -1):
            found = self.categories.get(code[:end])
            if found:
                return found
        return FALLBACK_CATEGORY

    def address(self, text: str) -> tuple[float, float] | None:
        return self.addresses.get(normalise_address(text))


def extended_warning(
    calendar: WorkingCalendar, dispatched_at: datetime, new_limit: datetime, limit: str, warn_at: float
) -> datetime | None:
    """The early warning of an extended resolve limit: when `warn_at` of the time from dispatch to
    `new_limit` has gone, counted in the measure of the order's own resolve `limit` (working or calendar).
    None when the calendar does not know the years between: the clocks then take the linear share."""
    working = parse_span(limit).working
    try:
        counted = calendar.counted(dispatched_at, new_limit, working).total_seconds()
        share = Span(counted * warn_at / 3600, "wh" if working else "h")
        if share.amount <= 0:  # a new limit at or before dispatch: past already, nothing to warn of
            return new_limit
        return min(calendar.deadline(dispatched_at, share), new_limit).astimezone(dispatched_at.tzinfo)
    except NotCovered:
        return None


def normalise_address(text: str) -> str:
    """An address as the table and the orders are compared: without whitespace of any width."""
    return "".join(text.split())


def load_hotline(path: Path = HOTLINE) -> HotlineConfig:
    """Parse and check the file; raise ConfigError naming the file, the key and the fix."""
    path = Path(path)
    data = read_toml(path, "the 12345 settings")
    c = TomlChecker(path)
    c.known(data, "", {"limits", "severity", "categories", "placement", "precursor", "rates", "topics", "retention"})
    limits, resolve = c.table(data, "limits"), c.table(c.table(data, "limits"), "resolve", "limits.resolve")
    c.known(limits, "limits.", {"contact", "warn_at", "resolve"})
    c.known(resolve, "limits.resolve.", set(URGENCIES))
    severity = c.table(data, "severity")
    c.known(severity, "severity.", set(URGENCIES))
    precursor, rates, topics = c.table(data, "precursor"), c.table(data, "rates"), c.table(data, "topics")
    c.known(precursor, "precursor.", {"days", "radius_m"})
    c.known(rates, "rates.", {"weights", "basically_satisfied", "min_n", "exclude_returned"})
    c.known(topics, "topics.", {"months", "z", "min_count"})
    weights = c.table(rates, "weights", "rates.weights")
    c.known(weights, "rates.weights.", set(RATES))
    retention, placement = c.table(data, "retention"), c.table(data, "placement")
    c.known(retention, "retention.", {"orders", "contact_hash"})
    c.known(placement, "placement.", {"addresses"})
    exclude = rates.get("exclude_returned")
    if not isinstance(exclude, bool):
        raise c.fail("rates.exclude_returned", f"{exclude!r} is not true or false", "write true or false")
    return HotlineConfig(
        path=path,
        version=hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12],
        contact=c.span(limits, "limits.contact"),
        warn_at=c.number(limits, "limits.warn_at", 0.05, 0.99),
        resolve={u: c.span(resolve, f"limits.resolve.{u}") for u in URGENCIES},
        severity={u: c.choice(severity.get(u), f"severity.{u}", SEVERITIES) for u in URGENCIES},
        categories=_categories(c, c.table(data, "categories")),
        addresses=_addresses(c, placement, path.parent),
        precursor_days=c.integer(precursor, "precursor.days", 1, 90),
        precursor_radius_m=c.number(precursor, "precursor.radius_m", 10, 5000),
        weights={r: c.number(weights, f"rates.weights.{r}", 0, 1) for r in RATES},
        basically_satisfied=c.number(rates, "rates.basically_satisfied", 0, 1),
        min_n=c.integer(rates, "rates.min_n", 1, 10_000),
        exclude_returned=exclude,
        topic_months=c.integer(topics, "topics.months", 1, 24),
        topic_z=c.number(topics, "topics.z", 0.5, 10),
        topic_min_count=c.integer(topics, "topics.min_count", 1, 1000),
        keep_orders=c.duration(retention, "retention.orders"),
        keep_contact_hash=c.duration(retention, "retention.contact_hash"),
    )


def _categories(c: TomlChecker, table: dict) -> dict[str, str]:
    for code, category in table.items():
        if not code.replace(".", "").replace("-", "").replace("_", "").isalnum():
            raise c.fail(f"categories.{code}", "is not a catalogue code", 'use the platform\'s code, e.g. "0102"')
        c.choice(category, f"categories.{code}", CATEGORIES)
    return dict(table)


def _addresses(c: TomlChecker, placement: dict, base: Path) -> dict[str, tuple[float, float]]:
    name = placement.get("addresses")
    if not name:
        return {}
    file = base / str(name)
    key = "placement.addresses"
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise c.fail(key, f"cannot read {file} ({exc})", "point it at a UTF-8 CSV relative to this file") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    if not rows or [h.strip() for h in rows[0]] != ["address", "lat", "lng"]:
        raise c.fail(key, f"{file}: the first line must be the header address,lat,lng", "add it")
    found = {}
    for number, row in enumerate(rows[1:], 2):
        try:
            address, lat, lng = row[0], float(row[1]), float(row[2])
        except (IndexError, ValueError):
            raise c.fail(key, f"{file}: row {number} {row!r:.120} is not address,lat,lng", "fix that row") from None
        if not (-90 <= lat <= 90 and -180 <= lng <= 180) or not normalise_address(address):
            raise c.fail(key, f"{file}: row {number}: no address, or lat/lng out of range", "fix that row")
        found[normalise_address(address)] = (lat, lng)
    return found
