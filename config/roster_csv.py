"""`redwall roster import`: the street's staff list, kept as a spreadsheet and saved as CSV, into the
roster TOML: one [[worker]] per row, checked as `redwall roster load` checks the roster (grids on the
street's map, roles, shifts, pairs), written only when all of it is right.
"""

from __future__ import annotations

import csv
import io
import os
import tomllib
from pathlib import Path

from config.errors import ConfigError
from config.roster import ROLES, build_roster
from schemas import json

# Column names as a street's spreadsheet may have them, in English or Chinese.
COLUMNS = {
    "device": ("device", "设备", "设备号", "手机编号"),
    "name": ("name", "姓名"),
    "role": ("role", "角色", "岗位"),
    "grid": ("grid", "网格", "网格编号"),
    "team": ("team", "班组", "结对"),
    "shifts": ("shifts", "班次"),
}
ROLE_BY_NAME = {**{key: key for key in ROLES}, **{zh: key for key, zh in ROLES.items()}}
_SEPARATORS = (";", "；", "、", ",", "，", " ")


def import_roster_csv(source: Path, out: Path, grids: set[str] | None = None, geometry: Path | None = None) -> int:
    """Write `out` from the CSV at `source`, keeping the timezone and shifts `out` already has; the number
    of workers written. `grids`: the grid ids of the street's map, when it is known."""
    out = Path(out)
    head, timezone, shifts = _kept_part(out)
    rows = _rows(source)
    where = f"{source} (worker #N is data row N)"
    fix = f"fix: use a grid id of {geometry} (`redwall street check` lists the map)" if geometry else None
    roster = build_roster(timezone, shifts, rows, where, grids, *([fix] if fix else []))
    text = head.rstrip("\n") + "\n" + "".join(_worker_toml(w) for w in rows)
    staging = out.with_name(f".{out.name}.importing")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, out)
    return len(roster.workers)


def _kept_part(out: Path) -> tuple[str, str, list[dict]]:
    """The existing file up to its first [[worker]] (header, timezone, shifts), or a plain start."""
    if not out.is_file():
        text = (
            '# The street\'s patrol roster (`redwall roster import`).\n\ntimezone = "Asia/Shanghai"\n\n'
            '[[shift]]\nid = "day"\nname = "白班 / day"\nstart = "08:00"\nend = "20:00"\n'
        )
    else:
        text = out.read_text(encoding="utf-8")
        cut = text.find("\n[[worker]]")
        text = text if cut < 0 else text[: cut + 1]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{out}: cannot read the roster to keep its shifts: {error}") from None
    return text, data.get("timezone", "Asia/Shanghai"), data.get("shift", [])


def _rows(source: Path) -> list[dict]:
    reader = csv.DictReader(io.StringIO(_text(source)))
    columns = {}
    for key, names in COLUMNS.items():
        found = next((c for c in reader.fieldnames or [] if c and c.strip().lower() in names), None)
        if found is None and key not in ("team", "shifts"):
            raise ConfigError(
                f"{source}: no column for {key} (columns: {', '.join(reader.fieldnames or [])}); "
                f"fix: name the column {' or '.join(names)}"
            )
        columns[key] = found
    rows = []
    for row in reader:
        value = {key: (row.get(column) or "").strip() for key, column in columns.items() if column}
        if not any(value.values()):
            continue  # a blank line at the end of a spreadsheet
        worker = {k: value[k] for k in ("device", "name", "grid") if value.get(k)}
        worker["role"] = ROLE_BY_NAME.get(value.get("role", ""), value.get("role", ""))
        if value.get("team"):
            worker["team"] = value["team"]
        worker["shifts"] = _split(value.get("shifts") or "day")
        rows.append(worker)
    return rows


def _text(source: Path) -> str:
    """Spreadsheets save CSV as UTF-8 (often with a byte-order mark) or, in Chinese Excel, GB18030."""
    try:
        data = Path(source).read_bytes()
    except OSError as error:
        raise ConfigError(f"{source}: cannot be read ({error.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _split(text: str) -> list[str]:
    for separator in _SEPARATORS:
        text = text.replace(separator, " ")
    return text.split()


def _worker_toml(worker: dict) -> str:
    # JSON strings are TOML basic strings: the same escapes, and CJK kept as it is.
    lines = [f"{key} = {json.dumps(value).decode()}" for key, value in worker.items()]
    return "\n[[worker]]\n" + "\n".join(lines) + "\n"
