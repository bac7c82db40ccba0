"""The ILLUSTRATIVE sample district, 西城区 (Xicheng District): its 15 streets (the real names) side by side
on one jittered lattice, 260 communities, 1,080 grids and 6,480 courtyards (院落); or, with more streets, a
synthetic city of numbered streets. Too big to check in: `district_path(streets)` makes it on demand into
the user's cache folder and returns its path.

Each street is a block of 9 x 8 lattice quads, one grid to a quad (~210 x 220 m, so the 15 streets cover
~51 km², like the real district), cut into 17 or 18 communities of 4-5 grids along the block's serpentine
walk. Neighbouring streets, communities and grids share the lattice's edge paths, so they meet exactly.
Courtyards are 3 x 2 to a quad, ~60 x 90 m like the street sample's (5 x 4 to its larger quads): 5 x 4 here
would make them ~35 x 45 m, 21,600 of them in a 9.4 MiB file (3.6 MiB with 6,480) with nearly every
courtyard cell of the registry at an edge (230,057 of 233,043), for no more to test (figures of the registry
at this size in benchmarks/README.md).
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import tempfile
from pathlib import Path

from config import cache
from config.sample import lattice as drawing
from config.sample.lattice import Frame, courtyards, edge_paths, feature, lattice, outline, render, serpentine

NOTE = (
    "ILLUSTRATIVE sample geometry made up by config/sample/district.py for tests, demos and benchmarks. "
    "Only the street names are those of Xicheng District; NONE of its boundaries are official."
)
DISTRICT = {"kind": "district", "id": "xicheng", "name": "西城区", "name_en": "Xicheng District"}
CITY = {"kind": "district", "id": "city", "name": "北京市（合成）", "name_en": "Beijing (synthetic city)"}
# (id, name, name_en): the district's 15 streets, laid out in this order from the south-west, row by row;
# the placement is invented.
STREETS = [
    ("xichangan", "西长安街街道", "Xichang'an Street"),
    ("xinjiekou", "新街口街道", "Xinjiekou Street"),
    ("yuetan", "月坛街道", "Yuetan Street"),
    ("zhanlanlu", "展览路街道", "Zhanlanlu Street"),
    ("desheng", "德胜街道", "Desheng Street"),
    ("jinrongjie", "金融街街道", "Jinrongjie Street"),
    ("shichahai", "什刹海街道", "Shichahai Street"),
    ("dashilan", "大栅栏街道", "Dashilan Street"),
    ("tianqiao", "天桥街道", "Tianqiao Street"),
    ("chunshu", "椿树街道", "Chunshu Street"),
    ("taoranting", "陶然亭街道", "Taoranting Street"),
    ("guanganmennei", "广安门内街道", "Guang'anmennei Street"),
    ("niujie", "牛街街道", "Niujie Street"),
    ("baizhifang", "白纸坊街道", "Baizhifang Street"),
    ("guanganmenwai", "广安门外街道", "Guang'anmenwai Street"),
]
BLOCK_COLUMNS, BLOCK_BANDS = 9, 4  # a street: 9 x 8 quads (odd columns: see serpentine)
QUADS = BLOCK_COLUMNS * 2 * BLOCK_BANDS
WEST, SOUTH, DX, DY = 116.300, 39.860, 0.0025, 0.002
SEED = 20161101  # any fixed number; changing it redraws every boundary
COURTYARDS_PER_QUAD = (3, 2)


def build(streets: int = len(STREETS)) -> dict:
    """The district's FeatureCollection: the district, its streets, their communities, grids and courtyards."""
    across = math.ceil(math.sqrt(streets))
    frame = Frame(WEST, SOUTH, DX, DY, across * BLOCK_COLUMNS, math.ceil(streets / across) * 2 * BLOCK_BANDS)
    rng, yard_rng = random.Random(SEED), random.Random(SEED + 1)
    paths = edge_paths(lattice(rng, frame), rng, frame)
    district = DISTRICT if streets <= len(STREETS) else CITY
    features, communities, grids, yards, every = [], [], [], [], []
    for n in range(streets):
        walk = serpentine(BLOCK_COLUMNS, BLOCK_BANDS, n % across * BLOCK_COLUMNS, n // across * 2 * BLOCK_BANDS)
        every += walk
        sid, name, name_en = (
            STREETS[n] if streets <= len(STREETS) else (f"s{n + 1:03d}", f"第{n + 1}街道", f"Street {n + 1}")
        )
        street = {"kind": "street", "id": sid, "name": name, "name_en": name_en, "district": district["id"]}
        features.append(feature(street, outline(walk, paths)))
        for props, quads in _communities(n, street, walk):
            communities.append(feature(props, outline(quads, paths)))
            for g, quad in enumerate(quads, start=1):
                grid = _grid(props, g)
                grids.append(feature(grid, outline([quad], paths)))
                yards += courtyards(grid, [quad], paths, yard_rng, COURTYARDS_PER_QUAD, bends=True)
    head = feature(dict(district), outline(every, paths))
    return {
        "type": "FeatureCollection",
        "name": f"{district['name_en']} (illustrative sample, {streets} streets)",
        "note": NOTE,
        "features": [head, *features, *communities, *grids, *yards],
    }


def _communities(n: int, street: dict, walk: list[tuple]) -> list[tuple[dict, list[tuple]]]:
    """A street's communities as runs of its walk: 18 in every third street, 17 in the others (260 for
    15 streets, as in the real district), the first runs one quad longer when the quads do not divide."""
    count = 18 if n % 3 == 0 else 17
    sizes = [QUADS // count + (k < QUADS % count) for k in range(count)]
    short, short_en = street["name"].removesuffix("街道"), street["name_en"].removesuffix(" Street")
    runs, start = [], 0
    for k, size in enumerate(sizes, start=1):
        props = {
            "kind": "community",
            "id": f"s{n + 1:02d}c{k:02d}",
            "name": f"{short}第{k}社区",
            "name_en": f"{short_en} community {k}",
            "street": street["id"],
        }
        runs.append((props, walk[start : start + size]))
        start += size
    return runs


def _grid(community: dict, g: int) -> dict:
    return {
        "kind": "grid",
        "id": f"{community['id']}-g{g:02d}",
        "name": f"{community['name']}第{g}网格",
        "name_en": f"{community['name_en']} grid {g}",
        "community": community["id"],
        "street": community["street"],
    }


def district_path(streets: int = len(STREETS)) -> Path:
    """The district sample of `streets` streets, made once per version of its generator and kept in the
    user's cache folder (beside the grid registry's), written whole then renamed."""
    digest = hashlib.sha256(str(streets).encode())
    for module in (drawing.__file__, __file__):
        digest.update(Path(module).read_bytes())
    where = cache.folder() / "geometry"
    path = where / f"xicheng-{streets}-{digest.hexdigest()[:16]}.geojson"
    if not path.exists():
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=where, delete=False, suffix=".part") as out:
            out.write(render(build(streets)))
        os.replace(out.name, path)
    return path
