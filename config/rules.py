"""Escalation rules from TOML (config/escalation.toml), checked at start-up: every error names the
file, the key and the fix. The engine (`streams/escalation/engine.py`) only ever asks these objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from config.files import TomlChecker, read_toml
from config.settings import CONFIG_DIR
from schemas import json
from schemas.records import CATEGORIES, LEVELS, PRIORITIES, SEVERITIES

DEFAULT_RULES = CONFIG_DIR / "escalation.toml"
REASONS = ("deadline", "request", "cluster")


@dataclass(frozen=True)
class Deadlines:
    acknowledge: timedelta
    resolve: timedelta


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

    def initial_level(self, category: str, severity: str) -> str:
        by_category = self.initial_by_category.get(category, {})
        return by_category.get(severity) or self.initial_by_severity.get(severity) or self.initial_default

    def deadlines_for(self, level: str, category: str) -> Deadlines:
        return self.deadline_overrides.get((category, level)) or self.deadlines[level]

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
    c = _Checker(path)
    c.known(
        data,
        "",
        {"alerts", "retention", "initial", "priority", "deadlines", "clustering", "sensitive_zones", "ceiling"},
    )
    initial, deadlines = c.table(data, "initial"), c.table(data, "deadlines")
    clustering, zones = c.table(data, "clustering"), c.table(data, "sensitive_zones")
    levels = {
        lv: Deadlines(c.duration(d, f"deadlines.{lv}.acknowledge"), c.duration(d, f"deadlines.{lv}.resolve"))
        for lv, d in ((lv, c.table(deadlines, lv, f"deadlines.{lv}")) for lv in LEVELS)
    }
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
    )


class _Checker(TomlChecker):
    """The rules' own checks, on top of the generic ones."""

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

    def overrides(self, items) -> dict[tuple[str, str], Deadlines]:
        out = {}
        for i, item in enumerate(items, 1):
            key = f"deadlines.override #{i}"
            self.known(item, f"{key}.", {"category", "level", "acknowledge", "resolve"})
            cat = self.choice(item.get("category"), f"{key}.category", CATEGORIES)
            level = self.choice(item.get("level"), f"{key}.level", LEVELS)
            out[(cat, level)] = Deadlines(
                self.duration(item, f"{key}.acknowledge"), self.duration(item, f"{key}.resolve")
            )
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
