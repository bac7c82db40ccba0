"""The built indexes of the grid registry, kept between process starts: building them checks the geometry
and fills ~110,000 cells (about 3 s of CPU for the sample street with its 1,440 courtyards), which every
`redwall worker`, console, simulator and 12345 poster paid at each start; loading them back takes ~0.2 s.

Kept in the user's cache folder (XDG_CACHE_HOME, else ~/.cache: `redwall/registry/`), one file per key: the
geometry file's bytes, the resolution, the h3 version and the source of the modules that check the geometry
and build the index. So a changed map, setting or code builds afresh, and only a geometry that passed its
checks is ever kept. The files are pickles, so one is read only from a folder that this user owns and nobody
else may write to. Anything wrong with the cache (missing, unreadable, read-only disk) costs a build, never
a start.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import stat
import tempfile
from pathlib import Path

import h3

from config import cache

log = logging.getLogger(__name__)

# The modules whose code decides what the index holds and which geometry passes.
SOURCES = ("streams/geofence/registry.py", "config/geometry.py", "config/rings.py", "config/patches.py")
ROOT = Path(__file__).resolve().parents[2]


def folder() -> Path:
    return cache.folder() / "registry"


def key(geometry: Path, resolution: int) -> str:
    digest = hashlib.sha256()
    for part in (Path(geometry).read_bytes(), str(resolution).encode(), h3.__version__.encode()):
        digest.update(hashlib.sha256(part).digest())
    for source in SOURCES:
        digest.update(hashlib.sha256((ROOT / source).read_bytes()).digest())
    return digest.hexdigest()[:32]


def load(geometry: Path, resolution: int):
    """The indexes kept for this geometry and resolution, or None."""
    where = folder()
    try:
        if not _private(where):
            return None
        return pickle.loads((where / f"{key(geometry, resolution)}.pickle").read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        log.warning("grid registry cache in %s unreadable (%s): building the index", where, exc)
        return None


def store(geometry: Path, resolution: int, indexes) -> None:
    """Keep the indexes (written whole, then renamed: a reader never sees half a file)."""
    where = folder()
    try:
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _private(where):
            return
        with tempfile.NamedTemporaryFile(dir=where, delete=False, suffix=".part") as out:
            out.write(pickle.dumps(indexes, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(out.name, where / f"{key(geometry, resolution)}.pickle")
    except OSError as exc:
        log.info("grid registry cache not kept in %s: %s", where, exc)


def _private(where: Path) -> bool:
    """Ours, and written by nobody else: otherwise its pickles could run someone else's code."""
    try:
        info = where.stat()
    except FileNotFoundError:
        return False
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        log.warning("grid registry cache %s is not this user's own, or others may write to it: not used", where)
        return False
    return True
