"""Where a dispatcher sees and acts. A community dispatcher acts in its community and sees its street; a street
dispatcher (and a read-only one issued for a street) its street; a district dispatcher every street, acting
wherever a street dispatcher may. Pure: the worker's actions and tasks and the console's lists ask here."""

from __future__ import annotations

from collections.abc import Collection

from config.geometry import Geometry
from schemas.records import UNLOCATED
from sinks.credentials import Credential

NOWHERE = ""  # the street of a street dispatcher issued without one in a district: it sees and acts on nothing


def street_scope(who: Credential, geometry: Geometry) -> str | None:
    """The street `who` sees and acts on; None for every street; NOWHERE for a credential that names none
    where the geometry has several (issued before streets were kept)."""
    if who.role == "district" or who.kind != "dispatcher":
        return None
    if who.street:
        return who.street
    if who.role == "community" and who.community in geometry.communities:
        return geometry.street_of(who.community)
    if who.role == "read":
        return None
    return next(iter(geometry.streets)) if len(geometry.streets) == 1 else NOWHERE


def place_street(geometry: Geometry, community: str | None, street: str | None = None) -> str | None:
    """The street an incident, alert or task belongs to: on one street that street; in a district its
    community's, or the `street` it carries. An unlocated one is the district's (None: no street sees it)."""
    if len(geometry.streets) == 1:
        return next(iter(geometry.streets))
    if community in geometry.communities:
        return geometry.street_of(community)
    return None if community == UNLOCATED else street


def sees(who: Credential, geometry: Geometry, street: str | None) -> bool:
    scope = street_scope(who, geometry)
    return scope is None or scope == street


def may_take(role: str, allowed: Collection[str]) -> bool:
    """Whether a dispatcher of `role` may take an action open to `allowed` roles: the district where the street may."""
    return role in allowed or (role == "district" and "street" in allowed)


def refusal(credential: Credential, community: str, geometry: Geometry | None = None) -> str | None:
    """Why this credential may not act on an incident of `community`, or None when it may; with `geometry`,
    its street is checked too."""
    if credential.kind != "dispatcher":
        return "a device token cannot act on incidents; use a dispatcher token"
    if credential.role == "read":
        return f"dispatcher {credential.subject} has role read: it may only look"
    if credential.role == "community" and credential.community != community:
        return (
            f"dispatcher {credential.subject} acts for community {credential.community} only; "
            f"this incident belongs to {community}"
        )
    if geometry is None or (community not in geometry.communities and community != UNLOCATED):
        return None  # no street to check: the worker answers 404 for a community the geometry does not hold
    return _outside_street(credential, geometry, place_street(geometry, community))


def _outside_street(credential: Credential, geometry: Geometry, street: str | None) -> str | None:
    scope = street_scope(credential, geometry)
    if scope is None or scope == street:
        return None
    if scope == NOWHERE:
        return (
            f"dispatcher {credential.subject} names no street and the geometry has {len(geometry.streets)}: "
            f"reissue it with --street, one of {', '.join(geometry.streets)}"
        )
    return (
        f"dispatcher {credential.subject} acts for street {scope} only; this incident belongs to "
        f"{street or 'no street: the district places it'}"
    )
