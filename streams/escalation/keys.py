"""The Kafka key of every record bound to an incident (located reports, actions, incident events): its street.

A street's reports, actions and incidents then meet on one partition and one engine, so that reports a few
metres apart across a community border can join one incident, and a worker's rebuild finds its partitions'
incidents by the same key. A street is a small load (~2,000 reports a month); its pings, keyed by device,
are what spreads over the partitions.

A report outside every street (community UNLOCATED) has no street of its own, and neither has its incident id
(`inc-unlocated-<hash>`); an action names only its incident, so the key must follow from the id alone. The
unlocated queue is therefore keyed by the district (the level above the streets, whose role sees them all),
and on a one-street map by that street, whose dispatchers have always placed it. The street of the device
that sent the report is no key: the geofencer does not know it, and an action on the incident could not find
it again."""

from __future__ import annotations

from config.geometry import Geometry
from streams.escalation.state import community_of


class IncidentKeys:
    """Community (or incident id) to the key of its street, each encoded once."""

    def __init__(self, geometry: Geometry):
        self.streets_of = {ident: area.parent for ident, area in geometry.communities.items()}  # community: street
        self.streets = {ident: street.encode() for ident, street in self.streets_of.items()}
        self.unlocated = geometry.unlocated_owner.encode()

    def of(self, community: str | None) -> bytes:
        """The key of a record of this community; UNLOCATED, None or an unknown id: the unlocated queue's."""
        return self.streets.get(community, self.unlocated)

    def of_incident(self, incident: str) -> bytes:
        return self.of(community_of(incident))
