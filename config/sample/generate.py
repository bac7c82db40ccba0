"""Writes the ILLUSTRATIVE sample geometry of Xichang'an Street: 1 street, 13 communities, 71 grids and
1,440 courtyards (院落), 20 to a lattice quad, drawn on the lattice of config/sample/lattice.py.

Run `python -m config.sample.generate`; the output is deterministic and checked in beside this file.
`python -m config.sample.generate --district [--streets N] [--out PATH]` writes the district sample
instead (config/sample/district.py), which is made on demand and not checked in.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from config.sample.lattice import Frame, courtyards, edge_paths, feature, lattice, outline, render, serpentine

OUTPUT = Path(__file__).resolve().parent / "xichangan.geojson"
NOTE = (
    "ILLUSTRATIVE sample geometry made up by config/sample/generate.py for tests and demos. "
    "These are NOT the official boundaries of Xichang'an Street, its communities or its grids."
)
STREET = {"kind": "street", "id": "xichangan", "name": "西长安街街道", "name_en": "Xichang'an Street"}

WEST, EAST, SOUTH, NORTH = 116.355, 116.400, 39.895, 39.925
COLUMNS, ROWS = 9, 8  # 72 lattice quads of ~430 m x 420 m; two merge into one grid, leaving 71
DX, DY = (EAST - WEST) / COLUMNS, (NORTH - SOUTH) / ROWS
SEED = 20140501  # any fixed number; changing it redraws every boundary
# (name, name_en, number of grids), in the order the serpentine walk below reaches them, which runs
# roughly south to north; the placement is invented, only the names are those of the area.
COMMUNITIES = [
    ("新文化街社区", "Xinwenhua Street", 6),
    ("和平门社区", "Hepingmen", 5),
    ("北新华街社区", "Beixinhua Street", 6),
    ("西交民巷社区", "Xijiaominxiang", 5),
    ("六部口社区", "Liubukou", 6),
    ("东新帘子胡同社区", "Dongxinlianzi Hutong", 5),
    ("钟声社区", "Zhongsheng", 6),
    ("未英胡同社区", "Weiying Hutong", 5),
    ("西单北大街社区", "Xidan North Street", 6),
    ("太仆寺街社区", "Taipusi Street", 5),
    ("西黄城根南街社区", "Xihuangchenggen South Street", 6),
    ("府右街社区", "Fuyoujie", 5),
    ("南长街社区", "Nanchang Street", 5),
]
MERGED = ("c08", 2)  # this community's 3rd grid covers two quads: 72 quads, 71 grids
# Courtyards: 5 x 4 to a quad, with their own seed, so that drawing them never moves a grid.
COURTYARDS_PER_QUAD = (5, 4)
COURTYARD_SEED = SEED + 1
FRAME = Frame(WEST, SOUTH, DX, DY, COLUMNS, ROWS)


def build() -> dict:
    rng, yard_rng = random.Random(SEED), random.Random(COURTYARD_SEED)
    paths = edge_paths(lattice(rng, FRAME), rng, FRAME)
    walk = iter(serpentine(COLUMNS, ROWS // 2))
    communities, grids, yards = [], [], []
    for n, (name, name_en, count) in enumerate(COMMUNITIES, start=1):
        cid = f"c{n:02d}"
        sizes = [2 if (cid, g) == MERGED else 1 for g in range(count)]
        groups = [[next(walk) for _ in range(size)] for size in sizes]
        props = {"kind": "community", "id": cid, "name": name, "name_en": name_en, "street": STREET["id"]}
        communities.append(feature(props, outline([q for g in groups for q in g], paths)))
        for g, quads in enumerate(groups, start=1):
            props = {
                "kind": "grid",
                "id": f"{cid}-g{g:02d}",
                "name": f"{name}第{g}网格",
                "name_en": f"{name_en} grid {g}",
                "community": cid,
                "street": STREET["id"],
            }
            grids.append(feature(props, outline(quads, paths)))
            yards += courtyards(props, quads, paths, yard_rng, COURTYARDS_PER_QUAD)
    street = feature(dict(STREET), outline(serpentine(COLUMNS, ROWS // 2), paths))
    return {
        "type": "FeatureCollection",
        "name": "Xichang'an Street (illustrative sample)",
        "note": NOTE,
        "features": [street, *communities, *grids, *yards],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m config.sample.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--district", action="store_true", help="write the district sample instead of the street")
    parser.add_argument("--streets", type=int, default=15, help="streets of the district sample (default 15)")
    parser.add_argument("--out", type=Path, help="where to write (default: beside this file for the street)")
    args = parser.parse_args(argv)
    if args.district:
        from config.sample import district  # it builds on this module's lattice

        out = args.out or Path(f"xicheng-{args.streets}.geojson")
        out.write_bytes(render(district.build(args.streets)))
    else:
        out = args.out or OUTPUT
        out.write_bytes(render(build()))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
