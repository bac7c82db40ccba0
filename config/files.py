"""Reading config files: one place that turns an unreadable or malformed file into a ConfigError."""

from __future__ import annotations

import tomllib
from pathlib import Path

from config.errors import ConfigError


def read_toml(path: str | Path, what: str, error: type[ConfigError] = ConfigError) -> dict:
    """The parsed TOML document; `what` names the file's role in the message (`the roster`)."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from None
