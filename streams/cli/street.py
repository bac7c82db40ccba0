"""The `redwall` commands for a street's own data: `street init|check`, `geometry import`, `roster
import`. They read and write files only (no broker, no database, no settings), so they run before
anything else is set up, e.g. in the image: docker compose run --rm migrate redwall street check /etc/redwall/street.
"""

from __future__ import annotations

from pathlib import Path

from config.crs import CRS_NAMES


def add_commands(sub, roster_sub) -> None:
    """`street` and `geometry` under `sub`; `import` under `roster_sub` (beside `roster load`)."""
    street = sub.add_parser(
        "street", help="the street directory every service mounts: geometry, roster, rules, routing, major events"
    )
    street_sub = street.add_subparsers(required=True, metavar="ACTION")
    init = street_sub.add_parser(
        "init",
        help="write the missing files of DIR: an empty roster, Redwall's rules, "
        "no webhook, no major event; no map until the street's is imported",
    )
    init.add_argument("dir", type=Path)
    init.add_argument(
        "--from-sample",
        action="store_true",
        help="also the sample map (and sensitive zones), marked illustrative: for a trial run",
    )
    init.set_defaults(run=_street_init, offline=True)
    check = street_sub.add_parser("check", help="check every file of DIR together, as the services read them")
    check.add_argument("dir", type=Path)
    check.set_defaults(run=_street_check, offline=True)

    geometry = sub.add_parser("geometry", help="the street's map")
    geometry_sub = geometry.add_subparsers(required=True, metavar="ACTION")
    imp = geometry_sub.add_parser(
        "import",
        help="the street's GIS export (GeoJSON of grid polygons) into Redwall's "
        "geometry: communities and street outlined from their grids, in WGS 84, checked",
    )
    imp.add_argument("source", type=Path, help="GeoJSON from QGIS or ArcGIS (a shapefile: ogr2ogr it first)")
    imp.add_argument("--street-field", required=True, help="attribute holding the street's code")
    imp.add_argument("--community-field", required=True, help="attribute holding the community's code")
    imp.add_argument("--grid-field", required=True, help="attribute holding the grid's code")
    imp.add_argument("--name-field", help="attribute holding the grid's name (default: its code)")
    imp.add_argument("--community-name-field", help="attribute holding the community's name")
    imp.add_argument("--street-name-field", help="attribute holding the street's name")
    imp.add_argument(
        "--prefix-grids",
        action="store_true",
        help="grid codes repeat across communities: make each id <community>-<grid>",
    )
    imp.add_argument(
        "--crs",
        choices=CRS_NAMES,
        default="wgs84",
        help="coordinates of the source: wgs84 (GPS, ogr2ogr EPSG:4326), gcj02 (Amap, Tencent), bd09 (Baidu)",
    )
    imp.add_argument("--out", type=Path, required=True, help="where to write it, e.g. street/geometry.geojson")
    imp.set_defaults(run=_geometry_import, offline=True)

    csv = roster_sub.add_parser(
        "import",
        help="the staff spreadsheet, saved as CSV (device, name, role, grid, team, "
        "shifts; Chinese headers too), into the roster TOML, checked against the map",
    )
    csv.add_argument("source", type=Path)
    csv.add_argument("--out", type=Path, required=True, help="the roster file; its timezone and shifts are kept")
    csv.add_argument("--geometry", type=Path, help="the street's map (default: geometry.geojson beside --out)")
    csv.set_defaults(run=_roster_import, offline=True)


def _street_init(settings, args):
    from config.street_dir import FILES, init_street

    for written in init_street(args.dir, args.from_sample):
        print(f"{written.name}: {written.done}")
    if not (args.dir / FILES["REDWALL_GEOMETRY"]).exists():
        print(
            f"no map yet: import the street's GIS export, redwall geometry import GIS.geojson --street-field ... "
            f"--community-field ... --grid-field ... --out {args.dir / FILES['REDWALL_GEOMETRY']} (docs/street-data.md)"
        )


def _street_check(settings, args):
    from config.street_dir import check_street

    counts = check_street(args.dir)
    print(f"{args.dir}: " + ", ".join(f"{n} {what}" for what, n in counts.items()))


def _geometry_import(settings, args):
    from config.geometry_import import Fields, import_geometry, write_geometry

    fields = Fields(
        args.street_field,
        args.community_field,
        args.grid_field,
        args.name_field,
        args.community_name_field,
        args.street_name_field,
        args.prefix_grids,
    )
    document, notes = import_geometry(args.source, fields, args.crs)
    for note in notes:
        print(f"note: {note}")
    geometry = write_geometry(document, args.out)
    print(
        f"{args.out}: street {geometry.street.id} ({geometry.street.name}), {len(geometry.communities)} communities, "
        f"{len(geometry.grids)} grids, in WGS 84 (from {args.crs})"
    )


def _roster_import(settings, args):
    from config.geometry import load_geometry
    from config.roster_csv import import_roster_csv

    geometry = args.geometry or args.out.parent / "geometry.geojson"
    grids = set(load_geometry(geometry, check_areas=False).grids) if geometry.is_file() else None
    workers = import_roster_csv(args.source, args.out, grids, geometry if grids is not None else None)
    checked = f"grids checked against {geometry}" if grids is not None else f"grids not checked: no map at {geometry}"
    print(f"{args.out}: {workers} workers ({checked}); load it with: redwall roster load")
