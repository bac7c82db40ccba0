"""The user's cache folder of Redwall (XDG_CACHE_HOME, else ~/.cache: `redwall/`): what it makes from its
inputs and can always make again, such as the grid registry's built indexes and the sample district."""

from __future__ import annotations

import os
from pathlib import Path


def folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "redwall"
