"""Escalation rules from TOML (config/escalation.toml), checked at start-up: every error names the
file, the key and the fix. The engine (`streams/escalation/engine.py`) only ever asks these objects.

Limits are spans (config/spans.py): calendar time (`30m`, `4h`) or working time (`4wh`, `1wd`), counted by
the working calendar (config/calendar.py). `version` names the rules an incident was opened under.

A district may set rules per street: `[streets.<street id>]` holds any of STREET_KEYS, merged table by table
over the file's own (the default), and `Rules.for_street(street)` answers with the street's own rules."""

from __future__ import annotations

import hashlib
import json as plain_json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from config.files import TomlChecker, read_toml
from config.settings import CONFIG_DIR
from config.spans import Span, parse_span
from schemas import json
from schemas.records import ACTIONS, CATEGORIES, LEVELS, PRIORITIES, SEVERITIES

DEFAULT_RULES = CONFIG_DIR / "escalation.toml"
REASONS = ("deadline", "request", "cluster")
ROLES = ("read", "community", "street")
# Who may take each action when `[actions.roles]` does not say: the street answers requests.
DEFAULT_ROLES = {a: ("street",) if a in ("approve", "deny") else ("community", "street") for a in ACTIONS}
DEFAULT_WARN_AT = 0.8  # `[deadlines] warn_at`: the early warning (预警) at this share of a limit
DEFAULT_APPROVE_AFTER = "2wh"  # `[pause] approve_after`: an unapproved pause stops the clocks this long
TOP_KEYS = {
    "alerts",
    "retention",
    "initial",
    "priority",
    "deadlines",
    "clustering",
    "sensitive_zones",
    "ceiling",
    "pause",
    "actions",
    "streets",
}
# What a street may set for itself: what decides its incidents' levels, limits and ceiling. The rest holds
# for the whole deployment (the cells clusters are counted in, alert age, retention, zones, roles).
STREET_KEYS = {"initial", "priority", "deadlines", "clustering", "ceiling", "pause"}


@dataclass(frozen=True)
class Deadlines:
    acknowledge: Span
    resolve: Span


@dataclass(frozen=True)
class Zone:
    """A sensitive zone: polygons of (lng, lat) rings, inside by even-odd counting."""

    id: str
    name: str
    rings: tuple[tuple[tuple[float, float], ...], ...]

    def contains(self, lat: float, lng: float) -> bool:
        inside = False
        for ring in self.rings:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
                if (y1 > lat) != (y2 > lat) and lng < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                    inside = not inside
        return inside


@dataclass(frozen=True)
class CeilingRule:
    category: str
    severities: frozenset[str]
    reasons: frozenset[str]


@dataclass(frozen=True)
class Rules:
    path: Path
    alert_max_age: timedelta
    keep_closed: timedelta
    initial_default: str
    initial_by_severity: Mapping[str, str]
    initial_by_category: Mapping[str, Mapping[str, str]]
    priority_by_severity: Mapping[str, str]
    deadlines: Mapping[str, Deadlines]
    deadline_overrides: Mapping[tuple[str, str], Deadlines]  # (category, level)
    cluster_resolution: int
    cluster_ring: int
    cluster_window: timedelta
    cluster_escalate_at: int
    zones: tuple[Zone, ...]
    zone_categories: frozenset[str]
    zone_level: str
    zone_priority: str
    ceiling: tuple[CeilingRule, ...]
    warn_at: float = DEFAULT_WARN_AT
    approve_after: Span = parse_span(DEFAULT_APPROVE_AFTER)
    action_roles: Mapping[str, frozenset[str]] = None  # type: ignore[assignment]  # set by load_rules
    version: str = ""  # sha256 of the settings read (not of comments), first 12 hex
    streets: Mapping[str, Rules] = field(default_factory=dict)  # a district's streets' own, where set

    def for_street(self, street: str | None) -> Rules:
        """The rules of a street: its own when `[streets.<id>]` sets any, else these."""
        return self.streets.get(street, self) if street else self

    def check_streets(self, known: Collection[str]) -> None:
        """Refuses rules set for a street the geometry does not hold (a typo would silently fall back)."""
        for street in self.streets:
            if street not in known:
                fix = f"use one of the geometry's streets: {', '.join(sorted(known))}"
                raise TomlChecker(self.path).fail(f"streets.{street}", "is not a street of the geometry", fix)

    def initial_level(self, category: str, severity: str) -> str:
        by_category = self.initial_by_category.get(category, {})
        return by_category.get(severity) or self.initial_by_severity.get(severity) or self.initial_default

    def deadlines_for(self, level: str, category: str) -> Deadlines:
        return self.deadline_overrides.get((category, level)) or self.deadlines[level]

    def actions_for(self, role: str) -> list[str]:
        """The actions a dispatcher of `role` may take (`[actions.roles]`), in the order of ACTIONS."""
        return [action for action in ACTIONS if role in self.action_roles.get(action, ())]

    def limits_for(self, category: str) -> dict[str, dict[str, str]]:
        """The limits per level an incident of `category` runs under, as written (kept in its state)."""
        return {
            level: {"acknowledge": d.acknowledge.text, "resolve": d.resolve.text}
            for level, d in ((level, self.deadlines_for(level, category)) for level in LEVELS)
        }

    def sensitive_zone(self, category: str, lat: float, lng: float) -> Zone | None:
        if category not in self.zone_categories:
            return None
        return next((z for z in self.zones if z.contains(lat, lng)), None)

    def ceiling_allows(self, category: str, severity: str, reason: str) -> bool:
        """Whether an incident at street level may go to the district, for this reason."""
        return any(
            r.category in (category, "*") and severity in r.severities and reason in r.reasons for r in self.ceiling
        )


def load_rules(path: Path = DEFAULT_RULES) -> Rules:
    """Parse and check the rules file; raise ConfigError naming the file, the key and the fix."""
    path = Path(path)
    data = read_toml(path, "escalation rules")
    _Checker(path).known(data, "", TOP_KEYS)
    streets = data.pop("streets", {})
    if not isinstance(streets, dict):
        raise _Checker(path).fail("streets", "must be a table of streets", "write [streets.<street id>] tables")
    rules, own = _parse(path, data, ""), {}
    for street, table in streets.items():
        where = f"streets.{street}."
        if not isinstance(table, dict):
            raise _Checker(path).fail(where[:-1], "must be a table", f"write [{where[:-1]}] with its keys")
        _Checker(path).known(table, where, STREET_KEYS)
        if "clustering" in table and "resolution" in table["clustering"]:
            raise _Checker(path).fail(where + "clustering.resolution", "is set for the whole deployment", "remove it")
        own[street] = _parse(path, _merged(data, table), where)
    return replace(rules, streets=own)


def _merged(base: dict, over: dict) -> dict:
    """`over` laid on `base` table by table: a table merges, anything else (a value, a list) replaces."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def _parse(path: Path, data: dict, where: str) -> Rules:
    c = _Checker(path, where)
    initial, deadlines = c.table(data, "initial"), c.table(data, "deadlines")
    clustering, zones = c.table(data, "clustering"), c.table(data, "sensitive_zones")
    c.known(deadlines, "deadlines.", {*LEVELS, "override", "warn_at"})
    levels = {lv: c.deadlines(c.table(deadlines, lv, f"deadlines.{lv}"), f"deadlines.{lv}") for lv in LEVELS}
    pause = data.get("pause", {"approve_after": DEFAULT_APPROVE_AFTER})
    c.known(pause, "pause.", {"approve_after"})
    return Rules(
        path=path,
        alert_max_age=c.duration(c.table(data, "alerts"), "alerts.max_age"),
        keep_closed=c.duration(c.table(data, "retention"), "retention.closed"),
        initial_default=c.choice(initial.get("default"), "initial.default", LEVELS[:3]),
        initial_by_severity=c.severity_map(initial.get("by_severity", {}), "initial.by_severity", LEVELS[:3]),
        initial_by_category={
            cat: c.severity_map(m, f"initial.by_category.{cat}", LEVELS[:3])
            for cat, m in c.categories(initial.get("by_category", {}), "initial.by_category")
        },
        priority_by_severity=c.severity_map(
            c.table(data, "priority").get("by_severity", {}), "priority.by_severity", PRIORITIES
        ),
        deadlines=levels,
        deadline_overrides=c.overrides(deadlines.get("override", [])),
        cluster_resolution=c.integer(clustering, "clustering.resolution", 0, 15),
        cluster_ring=c.integer(clustering, "clustering.ring", 0, 10),
        cluster_window=c.duration(clustering, "clustering.window"),
        cluster_escalate_at=c.integer(clustering, "clustering.escalate_at", 2, 10_000),
        zones=c.zones(zones, path.parent),
        zone_categories=frozenset(c.category_list(zones.get("categories"), "sensitive_zones.categories")),
        zone_level=c.choice(zones.get("level"), "sensitive_zones.level", LEVELS[:3]),
        zone_priority=c.choice(zones.get("priority"), "sensitive_zones.priority", PRIORITIES),
        ceiling=c.ceiling(data.get("ceiling", {})),
        warn_at=c.share(deadlines.get("warn_at", DEFAULT_WARN_AT), "deadlines.warn_at"),
        approve_after=c.span(pause, "pause.approve_after"),
        action_roles=c.roles(data.get("actions", {})),
        version=hashlib.sha256(plain_json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12],
    )


class _Checker(TomlChecker):
    """The rules' own checks, on top of the generic ones; a street's keys are named under `where`."""

    def __init__(self, path: Path, where: str = ""):
        super().__init__(path)
        self.where = where

    def fail(self, key: str, problem: str, fix: str):
        return super().fail(key if key.startswith(self.where) else self.where + key, problem, fix)

    def severity_map(self, table, key: str, allowed) -> dict[str, str]:
        if not isinstance(table, dict):
            raise self.fail(key, "must be a table of severity = value", 'e.g. { high = "street" }')
        return {
            self.choice(s, f"{key} (severity {s!r})", SEVERITIES): self.choice(v, f"{key}.{s}", allowed)
            for s, v in table.items()
        }

    def categories(self, table, key: str):
        if not isinstance(table, dict):
            raise self.fail(key, "must be a table keyed by category", 'e.g. safety_hazard = { high = "street" }')
        return [(self.choice(cat, f"{key}.{cat}", CATEGORIES), m) for cat, m in table.items()]

    def category_list(self, value, key: str) -> list[str]:
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty list of categories", f"use names from {', '.join(CATEGORIES)}")
        return [self.choice(v, key, CATEGORIES) for v in value]

    def deadlines(self, table: dict, key: str) -> Deadlines:
        self.known(table, f"{key}.", {"acknowledge", "resolve"})
        return Deadlines(self.span(table, f"{key}.acknowledge"), self.span(table, f"{key}.resolve"))

    def share(self, value, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise self.fail(key, f"{value!r} is not a share of the limit", "write a number between 0 and 1, e.g. 0.8")
        return float(value)

    def roles(self, table) -> dict[str, frozenset[str]]:
        """`[actions.roles]`: action = [roles]; an action not listed keeps its default (DEFAULT_ROLES)."""
        self.known(table, "actions.", {"roles"})
        listed = table.get("roles", {})
        self.known(listed, "actions.roles.", set(ACTIONS))
        out = dict(DEFAULT_ROLES) | listed
        for action, roles in out.items():
            if not isinstance(roles, list | tuple) or not roles:
                raise self.fail(f"actions.roles.{action}", f"{roles!r} is not a list of roles", f"e.g. {ROLES[1:]!r}")
            for role in roles:
                self.choice(role, f"actions.roles.{action}", ROLES)
        return {action: frozenset(roles) for action, roles in out.items()}

    def overrides(self, items) -> dict[tuple[str, str], Deadlines]:
        out = {}
        for i, item in enumerate(items, 1):
            key = f"deadlines.override #{i}"
            self.known(item, f"{key}.", {"category", "level", "acknowledge", "resolve"})
            cat = self.choice(item.get("category"), f"{key}.category", CATEGORIES)
            level = self.choice(item.get("level"), f"{key}.level", LEVELS)
            out[(cat, level)] = Deadlines(self.span(item, f"{key}.acknowledge"), self.span(item, f"{key}.resolve"))
        return out

    def zones(self, table: dict, base: Path) -> tuple[Zone, ...]:
        file = base / str(table.get("file", ""))
        if not table.get("file") or not file.is_file():
            raise self.fail("sensitive_zones.file", f"no file at {file}", "point it at a GeoJSON relative to this file")
        try:
            features = json.loads(file.read_bytes())["features"]
            return tuple(_zone(f) for f in features)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
            raise self.fail(
                "sensitive_zones.file",
                f"{file} is not a FeatureCollection of Polygons ({exc!r})",
                "give each feature properties.id and a Polygon or MultiPolygon geometry",
            ) from None

    def ceiling(self, table) -> tuple[CeilingRule, ...]:
        self.known(table, "ceiling.", {"allow"})
        rules = []
        for i, item in enumerate(table.get("allow", []), 1):
            key = f"ceiling.allow #{i}"
            self.known(item, f"{key}.", {"category", "severities", "reasons"})
            cat = item.get("category")
            if cat != "*":
                self.choice(cat, f"{key}.category", CATEGORIES)
            severities = [self.choice(s, f"{key}.severities", SEVERITIES) for s in item.get("severities", SEVERITIES)]
            reasons = [self.choice(r, f"{key}.reasons", REASONS) for r in item.get("reasons", [])]
            if not reasons:
                raise self.fail(f"{key}.reasons", "is empty", f"list the reasons that may pass the ceiling: {REASONS}")
            rules.append(CeilingRule(cat, frozenset(severities), frozenset(reasons)))
        return tuple(rules)


def _zone(feature: dict) -> Zone:
    geometry = feature["geometry"]
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    if geometry["type"] not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"geometry type {geometry['type']}")
    rings = tuple(tuple((float(p[0]), float(p[1])) for p in ring) for polygon in polygons for ring in polygon)
    return Zone(str(feature["properties"]["id"]), str(feature["properties"].get("name", "")), rings)
