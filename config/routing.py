"""The alert routing tree, channels and inhibit rules from TOML (config/routing.toml), refused at
start-up with a message naming the file, the key and the fix."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta, timezone
from pathlib import Path

from config.errors import ConfigError
from config.files import read_toml
from schemas.records import ALERT_KINDS, LEVELS, PRIORITIES, SEVERITIES

CHANNEL_TYPES = ("json", "wecom", "dingtalk")
MATCH_VALUES: dict[str, tuple[str, ...] | None] = {
    "level": LEVELS,
    "kind": ALERT_KINDS,
    "severity": SEVERITIES,
    "priority": PRIORITIES,
    "street": None,  # a district's streets may each page their own duty desk
    "community": None,
}
GROUP_LABELS = ("street", "community", "grid", "incident", "kind", "level", "owner", "severity", "category")
ROUTE_KEYS = {
    "match",
    "channels",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "quiet_hours",
    "continue",
    "routes",
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}

Matcher = Mapping[str, frozenset[str]]


class RoutingError(ConfigError):
    """routing.toml is wrong; the message names the file, the key and how to fix it."""


@dataclass(frozen=True)
class Channel:
    name: str
    type: str  # one of CHANNEL_TYPES
    url: str
    timeout: float  # seconds per attempt
    attempts: int  # sends before the alert is dead-lettered
    send_resolved: bool = True  # clearances follow the alerts this channel was told of (Alertmanager's)


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time  # may be before start: the window runs over midnight

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class Route:
    id: str  # "route", "route.routes.0", ...: where it is in the file, and the grouping namespace
    match: Matcher
    channels: tuple[str, ...]
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float
    quiet_hours: QuietHours | None
    continue_: bool = False
    routes: tuple[Route, ...] = ()


_ROOT_DEFAULTS = Route("route", {}, (), (), 30.0, 300.0, 14400.0, None)


@dataclass(frozen=True)
class InhibitRule:
    source: Matcher
    target: Matcher
    equal: tuple[str, ...]


@dataclass(frozen=True)
class Routing:
    path: Path
    root: Route
    channels: Mapping[str, Channel]
    inhibit: tuple[InhibitRule, ...] = ()
    utc_offset: timezone = timezone(timedelta(hours=8))
    max_age: float = 3600.0
    routes_by_id: Mapping[str, Route] = field(default_factory=dict, compare=False)

    def routes_for(self, alert: Mapping) -> list[Route]:
        """The routes that deliver this alert (Alertmanager's walk: first match, unless `continue`)."""
        return _walk(self.root, alert) or []


def matches(matcher: Matcher, alert: Mapping) -> bool:
    return all(alert.get(key) in allowed for key, allowed in matcher.items())


def _walk(route: Route, alert: Mapping) -> list[Route] | None:
    if not matches(route.match, alert):
        return None
    found: list[Route] = []
    for child in route.routes:
        got = _walk(child, alert)
        if got:
            found += got
            if not child.continue_:
                break
    return found or [route]


def load_routing(path: str | Path) -> Routing:
    """Read and validate the routing file; every channel a route names must be declared."""
    path = Path(path)
    doc = read_toml(path, "the alert routing", RoutingError)
    p = _Parser(path)
    p.keys(doc, "(top level)", {"utc_offset", "max_age", "channels", "route", "inhibit"})
    channels = {name: p.channel(name, spec) for name, spec in p.table(doc, "channels").items()}
    if "route" not in doc and channels:
        raise RoutingError(f"{path}: [route] is missing: add the root route with at least `channels`")
    # No channel and no route: no webhook at all; alerts reach the console and the Kafka topic only.
    root = p.route(doc["route"], "route", None, channels) if "route" in doc else _ROOT_DEFAULTS
    inhibit = tuple(p.inhibit(rule, f"inhibit.{i}") for i, rule in enumerate(p.list(doc, "inhibit", "(top level)")))
    return Routing(
        path,
        root,
        channels,
        inhibit,
        p.offset(doc.get("utc_offset", "+08:00")),
        p.duration(doc.get("max_age", "1h"), "max_age"),
        p.routes,
    )


class _Parser:
    def __init__(self, path: Path):
        self.path = path
        self.routes: dict[str, Route] = {}

    def fail(self, key: str, problem: str) -> RoutingError:
        return RoutingError(f"{self.path}: {key}: {problem}")

    def keys(self, table: Mapping, where: str, allowed: set[str]) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(f"{where}.{unknown[0]}", f"unknown key; use one of {', '.join(sorted(allowed))}")

    def table(self, doc: Mapping, key: str) -> Mapping:
        value = doc.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def list(self, doc: Mapping, key: str, where: str) -> list:
        value = doc.get(key, [])
        if not isinstance(value, list):
            raise self.fail(f"{where}.{key}", "must be an array")
        return value

    def duration(self, raw, key: str) -> float:
        match = _DURATION.fullmatch(str(raw).strip())
        if match is None:
            raise self.fail(key, f'{raw!r} is not a duration; write it like "30s", "5m" or "4h"')
        return float(match[1]) * _UNIT_SECONDS[match[2]]

    def offset(self, raw: str) -> timezone:
        match = re.fullmatch(r"([+-])(\d\d):(\d\d)", str(raw))
        if match is None:
            raise self.fail("utc_offset", f'{raw!r} is not an offset; write it like "+08:00"')
        sign = 1 if match[1] == "+" else -1
        return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3])))

    def channel(self, name: str, spec) -> Channel:
        key = f"channels.{name}"
        if not isinstance(spec, dict):
            raise self.fail(key, "must be a table with type and url")
        self.keys(spec, key, {"type", "url", "timeout", "attempts", "send_resolved"})
        if spec.get("type") not in CHANNEL_TYPES:
            raise self.fail(f"{key}.type", f"{spec.get('type')!r} is unknown; use one of {', '.join(CHANNEL_TYPES)}")
        url = spec.get("url", "")
        if not str(url).startswith(("http://", "https://")):
            raise self.fail(f"{key}.url", f"{url!r} is not an http(s) URL")
        attempts = spec.get("attempts", 4)
        if not isinstance(attempts, int) or not 1 <= attempts <= 20:
            raise self.fail(f"{key}.attempts", f"{attempts!r}: use a whole number 1..20")
        timeout = self.duration(spec.get("timeout", "5s"), f"{key}.timeout")
        if timeout <= 0:
            raise self.fail(f"{key}.timeout", "must be longer than 0s")
        send_resolved = spec.get("send_resolved", True)
        if not isinstance(send_resolved, bool):
            raise self.fail(f"{key}.send_resolved", f"{send_resolved!r}: write true or false")
        return Channel(name, spec["type"], url, timeout, attempts, send_resolved)

    def matcher(self, raw, key: str) -> Matcher:
        if not isinstance(raw, dict):
            raise self.fail(key, 'must be a table like { level = ["street"] }')
        self.keys(raw, key, set(MATCH_VALUES))
        result = {}
        for label, values in raw.items():
            values = [values] if isinstance(values, str) else values
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                raise self.fail(f"{key}.{label}", "must be a string or a non-empty array of strings")
            allowed = MATCH_VALUES[label]
            bad = [v for v in values if allowed is not None and v not in allowed]
            if bad:
                raise self.fail(f"{key}.{label}", f"{bad[0]!r} is not one of {', '.join(allowed)}")
            result[label] = frozenset(values)
        return result

    def quiet_hours(self, raw, key: str) -> QuietHours | None:
        if raw == {}:
            return None  # an empty table switches inherited quiet hours off
        if not isinstance(raw, dict) or set(raw) != {"start", "end"}:
            raise self.fail(key, 'must be { start = "22:00", end = "07:00" }, or {} for none')
        try:
            return QuietHours(time.fromisoformat(raw["start"]), time.fromisoformat(raw["end"]))
        except (TypeError, ValueError):
            raise self.fail(key, f'{raw!r}: write times as "HH:MM"') from None

    def route(self, raw, key: str, parent: Route | None, channels: Mapping[str, Channel]) -> Route:
        if not isinstance(raw, dict):
            raise self.fail(key, "must be a table")
        self.keys(raw, key, ROUTE_KEYS)
        inherited = parent or dataclasses.replace(_ROOT_DEFAULTS, id=key)
        names = tuple(raw.get("channels", inherited.channels))
        unknown = [n for n in names if n not in channels]
        if unknown:
            raise self.fail(f"{key}.channels", f"{unknown[0]!r} is not declared; add [channels.{unknown[0]}]")
        if not names:
            raise self.fail(f"{key}.channels", "the root route must name at least one channel")
        group_by = tuple(raw.get("group_by", inherited.group_by))
        bad = [g for g in group_by if g not in GROUP_LABELS]
        if bad:
            raise self.fail(f"{key}.group_by", f"{bad[0]!r} is not one of {', '.join(GROUP_LABELS)}")
        timings = {
            t: self.duration(raw[t], f"{key}.{t}") if t in raw else getattr(inherited, t)
            for t in ("group_wait", "group_interval", "repeat_interval")
        }
        if timings["group_interval"] <= 0 or timings["repeat_interval"] <= 0:
            raise self.fail(f"{key}.group_interval", "group_interval and repeat_interval must be longer than 0s")
        quiet = (
            self.quiet_hours(raw["quiet_hours"], f"{key}.quiet_hours")
            if "quiet_hours" in raw
            else inherited.quiet_hours
        )
        if not isinstance(raw.get("continue", False), bool):
            raise self.fail(f"{key}.continue", "must be true or false")
        route = Route(
            key,
            self.matcher(raw.get("match", {}), f"{key}.match"),
            names,
            group_by,
            quiet_hours=quiet,
            continue_=raw.get("continue", False),
            **timings,
        )
        children = tuple(
            self.route(child, f"{key}.routes.{i}", route, channels)
            for i, child in enumerate(self.list(raw, "routes", key))
        )
        route = dataclasses.replace(route, routes=children)
        self.routes[key] = route
        return route

    def inhibit(self, raw, key: str) -> InhibitRule:
        if not isinstance(raw, dict):
            raise self.fail(key, "must be a table with source, target and equal")
        self.keys(raw, key, {"source", "target", "equal"})
        equal = raw.get("equal", [])
        if not isinstance(equal, list) or any(e not in GROUP_LABELS for e in equal):
            raise self.fail(f"{key}.equal", f"must be an array of {', '.join(GROUP_LABELS)}")
        return InhibitRule(
            self.matcher(raw.get("source", {}), f"{key}.source"),
            self.matcher(raw.get("target", {}), f"{key}.target"),
            tuple(equal),
        )
