"""The street directory: the street's own geometry, roster, rules, routing and major events, in one
place every service mounts (`redwall street init` writes it, `redwall street check` checks it).

Production defaults page nobody: an empty roster (no phantom devices), no webhook, no major event,
and either no map until the street's is imported or the sample map marked illustrative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from config.calendar import load_calendar
from config.errors import ConfigError
from config.files import read_toml
from config.geometry import load_geometry
from config.major_events import load_major_events
from config.roster import load_roster
from config.routing import load_routing
from config.rules import load_rules
from config.settings import CALENDAR, CONFIG_DIR, ESCALATION_RULES, HOLIDAYS, SAMPLE_GEOMETRY, SAMPLE_HOLIDAYS
from schemas import json

TEMPLATES = CONFIG_DIR / "street"
SAMPLE_ZONES = CONFIG_DIR / "sample" / "sensitive_zones.geojson"
# What the services read, by setting: the names docker-compose.yml gives them under /etc/redwall/street.
FILES = {
    "REDWALL_GEOMETRY": "geometry.geojson",
    "REDWALL_ROSTER": "roster.toml",
    "REDWALL_ESCALATION_RULES": "escalation.toml",
    "REDWALL_ROUTING": "routing.toml",
    "REDWALL_MAJOR_EVENTS": "major_events.toml",
    "REDWALL_CALENDAR": "calendar.toml",
    "REDWALL_HOLIDAYS": "holidays",  # a folder: <year>.toml from the State Council's notices
}
ZONES = "sensitive_zones.geojson"
ILLUSTRATIVE = (
    "ILLUSTRATIVE sample map made up for demos and tests: NOT the boundaries of any real street. "
    "Replace it with the street's own: redwall geometry import GIS.geojson ... --out geometry.geojson"
)
_RULES_HEADER = """\
# The street's escalation rules: a copy of Redwall's, to review with the street (deadlines above all).
# Workers read it at start: restart them after a change (docker compose restart worker). The
# sensitive zones file below is named relative to this file, inside the street directory.

"""
_ZONES_LINE = re.compile(r'^file = "[^"]*"(.*)$', re.M)


@dataclass(frozen=True)
class Written:
    name: str
    done: str  # "written", "kept (exists)"


def init_street(directory: Path, from_sample: bool = False) -> list[Written]:
    """Write every missing file of a street directory; an existing file is never touched."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    contents = {
        "README.md": (TEMPLATES / "README.md").read_bytes(),
        FILES["REDWALL_ROSTER"]: (TEMPLATES / "roster.toml").read_bytes(),
        FILES["REDWALL_ESCALATION_RULES"]: _rules_text().encode(),
        ZONES: _marked(SAMPLE_ZONES, "description") if from_sample else (TEMPLATES / ZONES).read_bytes(),
        FILES["REDWALL_ROUTING"]: (TEMPLATES / "routing.toml").read_bytes(),
        FILES["REDWALL_MAJOR_EVENTS"]: (TEMPLATES / "major_events.toml").read_bytes(),
        FILES["REDWALL_CALENDAR"]: CALENDAR.read_bytes(),
        f"{FILES['REDWALL_HOLIDAYS']}/README.md": (HOLIDAYS / "README.md").read_bytes(),
    }
    if from_sample:
        contents[FILES["REDWALL_GEOMETRY"]] = _marked(SAMPLE_GEOMETRY, "note")
        for year in SAMPLE_HOLIDAYS.glob("*.toml"):  # illustrative, and says so in its first lines
            contents[f"{FILES['REDWALL_HOLIDAYS']}/{year.name}"] = year.read_bytes()
    done = []
    for name, data in contents.items():
        path = directory / name
        if path.exists():
            done.append(Written(name, "kept (exists)"))
            continue
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        done.append(Written(name, "written"))
    return done


def check_street(directory: Path, tz: str = "Asia/Shanghai") -> dict[str, int]:
    """Every file of the directory checked together, as the services read them (the calendar's cover of
    the next 60 days from today in `tz` too); counts of what is in it."""
    directory = Path(directory)
    path = {setting: directory / name for setting, name in FILES.items()}
    if not path["REDWALL_GEOMETRY"].is_file():
        raise ConfigError(
            f"{path['REDWALL_GEOMETRY']}: no map yet; import the street's GIS export: redwall geometry "
            f"import GIS.geojson --street-field ... --community-field ... --grid-field ... --out "
            f"{path['REDWALL_GEOMETRY']} (docs/street-data.md)"
        )
    geometry = load_geometry(path["REDWALL_GEOMETRY"])
    grids = set(geometry.grids)
    roster = load_roster(path["REDWALL_ROSTER"], grids, geometry=path["REDWALL_GEOMETRY"])
    events = load_major_events(path["REDWALL_MAJOR_EVENTS"], grids)
    rules = load_rules(path["REDWALL_ESCALATION_RULES"])
    rules.check_streets(geometry.streets)  # as the worker does at start
    routing = load_routing(path["REDWALL_ROUTING"])
    calendar = load_calendar(path["REDWALL_CALENDAR"], path["REDWALL_HOLIDAYS"], tz)
    zones = (rules.path.parent / read_toml(rules.path, "escalation rules")["sensitive_zones"]["file"]).resolve()
    if not zones.is_relative_to(directory.resolve()):
        raise ConfigError(
            f"{rules.path}: sensitive_zones.file: {zones} is outside {directory}; fix: keep the zones "
            "file in the street directory (what the services mount), named relative to escalation.toml"
        )
    return {
        "communities": len(geometry.communities),
        "grids": len(grids),
        "workers": len(roster.workers),
        "major events": len(events.periods),
        "sensitive zones": len(rules.zones),
        "webhooks": len(routing.channels),
        "holiday years from files": sum(1 for source in calendar.sources.values() if source.endswith(".toml")),
    }


def _rules_text() -> str:
    text = ESCALATION_RULES.read_text(encoding="utf-8")
    text, found = _ZONES_LINE.subn(rf'file = "{ZONES}"\1', text, count=1)
    if not found:
        raise ConfigError(f"{ESCALATION_RULES}: sensitive_zones.file not found; cannot point it at {ZONES}")
    return _RULES_HEADER + text


def _marked(path: Path, key: str) -> bytes:
    """A sample GeoJSON with its illustrative mark in front, where every reader of the file sees it."""
    document = json.loads(path.read_bytes())
    name = document.get("name", path.stem)
    marked = {
        "type": document["type"],
        "name": name if "illustrative" in name.lower() else f"{name} (illustrative)",
        key: ILLUSTRATIVE,
    }
    for feature in document["features"]:
        if feature["properties"].get("kind") == "street":  # what the console names the map by
            feature["properties"]["name"] += "（示意）"
    return json.dumps({**marked, **{k: v for k, v in document.items() if k not in marked}}) + b"\n"
