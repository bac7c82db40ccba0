"""`redwall devices|dispatchers|integrations add|revoke|list`: credentials in Postgres (integrations: the
12345 adapters that post work orders).

A new token is printed once, as `ID TOKEN` on stdout, and never again: only its hash is stored.
"""

from __future__ import annotations

import asyncio
import os
import sys
import unicodedata
from pathlib import Path

from config.geometry import load_geometry
from schemas.display import ROLE, local_minute
from sinks.credentials import ROLES, AlreadyRevoked, CredentialError, issue, listing, revoke

NEEDS = ("postgres",)


def add_commands(sub) -> None:
    devices = sub.add_parser("devices", help="device credentials: the tokens phones post with")
    actions = devices.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="issue a token per device id, printed once as `ID TOKEN`")
    add.add_argument("ids", nargs="+", metavar="ID")
    add.add_argument("--rotate", action="store_true", help="replace a live credential (its old token stops working)")
    add.set_defaults(run=_devices_add, needs=NEEDS)
    _revoke_and_list(actions, "device")

    dispatchers = sub.add_parser("dispatchers", help="dispatcher credentials for the console and the actions API")
    actions = dispatchers.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="issue a dispatcher's token, printed once as `NAME TOKEN`")
    add.add_argument("name")
    add.add_argument(
        "--role",
        required=True,
        choices=ROLES,
        help="read: look only; community: act on its community's incidents; street: on its street's; "
        "district: on every street's",
    )
    add.add_argument("--community", help="with --role community: the community id, e.g. c03")
    add.add_argument(
        "--street",
        help="with --role street (or read): the street id; needed when the geometry has several streets",
    )
    add.add_argument("--rotate", action="store_true", help="replace a live credential (its old token stops working)")
    add.set_defaults(run=_dispatchers_add, needs=NEEDS)
    _revoke_and_list(actions, "dispatcher")

    integrations = sub.add_parser("integrations", help="integration credentials: the 12345 adapter posting work orders")
    actions = integrations.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="issue an adapter's token, printed once as `NAME TOKEN`")
    add.add_argument("name")
    add.add_argument("--rotate", action="store_true", help="replace a live credential (its old token stops working)")
    add.set_defaults(run=_integrations_add, needs=NEEDS)
    _revoke_and_list(actions, "integration")


def _revoke_and_list(actions, kind: str) -> None:
    name = "ID" if kind == "device" else "NAME"
    gone = actions.add_parser("revoke", help=f"revoke the {kind}'s token: refused at once by every worker")
    gone.add_argument("subject", metavar=name)
    gone.set_defaults(run=lambda settings, args: _revoke(settings, kind, args.subject), needs=NEEDS)
    actions.add_parser("list", help=f"every {kind}: live or revoked, since when (in REDWALL_TIMEZONE)").set_defaults(
        run=lambda settings, args: _list(settings, kind), needs=NEEDS
    )


def _devices_add(settings, args) -> int:
    async def run():
        return [await issue(settings.database_dsn, "device", device, rotate=args.rotate) for device in args.ids]

    return _report_issued("devices add", lambda: asyncio.run(run()), settings.timezone)


def _integrations_add(settings, args) -> int:
    async def run():
        return [await issue(settings.database_dsn, "integration", args.name, rotate=args.rotate)]

    return _report_issued("integrations add", lambda: asyncio.run(run()), settings.timezone)


def _dispatchers_add(settings, args) -> int:
    geometry = load_geometry(settings.geometry_path, check_areas=False)
    communities = set(geometry.communities)

    async def run():
        return [
            await issue(
                settings.database_dsn,
                "dispatcher",
                args.name,
                role=args.role,
                community=args.community,
                communities=communities,
                street=street_for(geometry, args.role, args.community, args.street),
                streets=list(geometry.streets),
                rotate=args.rotate,
            )
        ]

    return _report_issued("dispatchers add", lambda: asyncio.run(run()), settings.timezone)


def street_for(geometry, role: str, community: str | None, street: str | None) -> str | None:
    """The street a new dispatcher is limited to: its community's for role community, the one street of a
    one-street geometry for role street unless given; what the store then checks."""
    if role == "community" and community in geometry.communities:
        own = geometry.street_of(community)
        if street not in (None, own):
            raise CredentialError(f"community {community} lies in street {own}, not {street}: leave out --street")
        return own
    if role == "street" and street is None and len(geometry.streets) == 1:
        return next(iter(geometry.streets))
    return street


def padded(text: str, columns: int) -> str:
    """`text` padded to `columns` terminal columns; a Chinese character takes two."""
    wide = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(columns - wide, 0)


def community_ids(geometry: Path) -> set[str]:
    """The community ids of the configured GeoJSON, without the seconds-long check of the areas
    (`redwall migrate`'s and the worker's job); a malformed file is a GeometryError naming the feature."""
    return {c.id for c in community_areas(geometry)}


def community_areas(geometry: Path) -> list:
    """The communities of the configured GeoJSON, in file order (ids and names), unchecked as above."""
    return list(load_geometry(geometry, check_areas=False).communities.values())


def _report_issued(command: str, run, tz: str) -> int:
    try:
        issued = run()
    except CredentialError as error:
        print(f"redwall: {command}: {error}", file=sys.stderr)
        return 1
    for one in issued:
        if one.token:
            print(f"{one.credential.subject} {one.token}", flush=True)
        else:
            print(
                f"{one.credential.subject}: already holds a live credential, issued "
                f"{local_minute(one.created_at, tz)} ({tz}); its token is not shown again "
                "(--rotate replaces it)",
                file=sys.stderr,
            )
    return 0


def _revoke(settings, kind: str, subject: str) -> int:
    tz = settings.timezone
    try:
        when = asyncio.run(revoke(settings.database_dsn, kind, subject))
    except AlreadyRevoked as error:
        print(
            f"redwall: {kind}s revoke: {kind} {subject} was already revoked at {local_minute(error.at, tz)} ({tz})",
            file=sys.stderr,
        )
        return 1
    except CredentialError as error:
        print(f"redwall: {kind}s revoke: {error}", file=sys.stderr)
        return 1
    print(f"{subject} revoked at {local_minute(when, tz)} ({tz}): refused from now on")
    return 0


def _list(settings, kind: str) -> int:
    """One line per subject; times to the minute in the street's zone, roles by their Chinese names."""
    rows = asyncio.run(listing(settings.database_dsn, kind))
    tz = settings.timezone
    roles = kind == "dispatcher"
    names = {c.id: c.name for c in community_areas(settings.geometry_path)} if roles else {}
    extra = "  ROLE                COMMUNITY|STREET" if roles else ""
    print(f"{kind.upper():<24} {'STATE':<8} {'ISSUED':<17} {'REVOKED':<17}{extra}    (times: {tz})")
    for r in rows:
        revoked = local_minute(r["revoked_at"], tz) if r["revoked_at"] else "-"
        state = "revoked" if r["revoked_at"] else "live"
        if roles:
            community = r["community_id"] and f"{r['community_id']} {names.get(r['community_id'], '')}".rstrip()
            extra = f"  {padded(ROLE[r['role']], 8)} {r['role']:<10} {community or r['street_id'] or '-'}"
        print(f"{r['subject']:<24} {state:<8} {local_minute(r['created_at'], tz):<17} {revoked:<17}{extra}")
    return 0


def write_token_file(path: Path, tokens: dict[str, str]) -> Path:
    """`ID TOKEN` lines, readable by the owner only (0600 from the start, never briefly wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(f"{subject} {token}\n" for subject, token in tokens.items())
    return path


def read_token_file(path: Path) -> dict[str, str]:
    """The `ID TOKEN` lines `redwall devices add` prints (other lines, e.g. comments, are skipped)."""
    pairs = (line.split() for line in Path(path).read_text(encoding="utf-8").splitlines())
    return {p[0]: p[1] for p in pairs if len(p) == 2 and not p[0].startswith("#")}
