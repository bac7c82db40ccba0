"""Placing a 12345 order in the street, and the two records it becomes: the LocatedHotlineOrder and the
LocatedReport the escalation engine takes. Pure: the registry, the config, the working calendar (which
counts the order's limits) and the order come in.

The ways, in order: its location, when inside a grid; the grid, then the community, the platform names
(by id or by name, whitespace ignored); its address in the config's table, when that point is inside a
grid; else the unlocated queue (Geometry.unlocated_area: the street's, or in a district the district's). An
area gives the order a representative point inside it, found once per area at start, so the report has a
location; only a point joins incidents nearby.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from h3.api import basic_int as h3i

from config.calendar import NotCovered, WorkingCalendar
from config.geometry import Area, fill_cells
from config.hotline import HotlineConfig, normalise_address
from schemas.fields import FieldError
from schemas.hotline import HOTLINE_DEVICE, REPORT_PREFIX
from schemas.records import POINT_PLACED, UNLOCATED
from streams.geofence.registry import GridRegistry


@dataclass(frozen=True)
class Placed:
    """Where an order lands: community UNLOCATED and no point when it could not be placed."""

    placed_by: str
    community: str
    grid: str | None
    point: tuple[float, float] | None
    courtyard: str | None = None  # the courtyard (院落) a point lies in

    @property
    def by_point(self) -> bool:
        return self.placed_by in POINT_PLACED


class Placer:
    """Places orders in one street's geometry; builds the lookups and area points once."""

    def __init__(self, registry: GridRegistry, config: HotlineConfig, calendar: WorkingCalendar):
        self.registry, self.config, self.calendar = registry, config, calendar
        self.grids = _by_id_and_name(registry.grids.values())
        self.communities = _by_id_and_name(registry.communities.values())
        self.points = {
            a.id: inner_point(a, registry) for a in (*registry.grids.values(), *registry.communities.values())
        }
        self.queue_point = inner_point(registry.geometry.unlocated_area, registry)

    def place(self, order: dict) -> Placed:
        loc = order.get("location")
        if loc and (found := self._at("location", loc["lat"], loc["lng"])):
            return found
        grid = self.grids.get(normalise_address(order.get("platform_grid", "")))
        if grid is not None:
            return Placed("grid", grid.parent, grid.id, self.points[grid.id])
        community = self.communities.get(normalise_address(order.get("platform_community", "")))
        if community is not None:
            return Placed("community", community.id, None, self.points[community.id])
        point = self.config.address(order["address"]) if order["address"] else None
        return (point and self._at("address", *point)) or Placed("unlocated", UNLOCATED, None, None)

    def _at(self, how: str, lat: float, lng: float) -> Placed | None:
        where = self.registry.locate(lat, lng)
        return None if where.outside else Placed(how, where.community, where.grid, (lat, lng), where.courtyard)

    def located_order(self, order: dict, placed: Placed) -> dict:
        """The LocatedHotlineOrder: the order as posted, its place, category, report id and limits."""
        located = {
            **order,
            "street": self.registry.geometry.street_of(placed.community) or self.registry.geometry.unlocated_owner,
            "community": placed.community,
            "placed_by": placed.placed_by,
            "category": self.config.category(order["catalogue"][-1]["code"]),
            "report": REPORT_PREFIX + order["id"],
            "limits": self._limits(order),
        }
        if placed.grid:
            located["grid"] = placed.grid
        if placed.courtyard:
            located["courtyard"] = placed.courtyard
        if placed.point:
            located["point"] = {"lat": placed.point[0], "lng": placed.point[1]}
            if placed.by_point:
                located["cell"] = self.registry.cell(*placed.point)
        return located

    def _limits(self, order: dict) -> dict:
        """The order's limits on the calendar; FieldError (a dead letter) when its dispatch lies in a year
        the calendar does not know: a deadline is never guessed, and one order never stops the agent."""
        try:
            dispatched = datetime.fromisoformat(order["dispatched_at"])
            return self.config.limits(order["urgency"], dispatched, self.calendar).as_record()
        except NotCovered as error:
            raise FieldError("dispatched_at", str(error)) from None

    def report(self, located: dict) -> dict:
        """The LocatedReport the order becomes; an unlocated one has no community or grid, like a report
        outside every grid, and stands inside the street or district holding the unlocated queue (the engine
        never reads it there)."""
        point = located.get("point")
        lat, lng = (point["lat"], point["lng"]) if point else self.queue_point
        report = {
            "id": located["report"],
            "device": HOTLINE_DEVICE,
            "category": located["category"],
            "severity": self.config.severity[located["urgency"]],
            "text": located["content"],
            "location": {"lat": lat, "lng": lng},
            "event_time": located["dispatched_at"],
            "street": located["street"],
            "cell": self.registry.cell(lat, lng),
            "order": located["id"],
            "placed_by": located["placed_by"],
        }
        if located["community"] != UNLOCATED:
            report["community"] = located["community"]
            if located.get("grid"):
                report["grid"] = located["grid"]
            if located.get("courtyard"):
                report["courtyard"] = located["courtyard"]
        return report


def inner_point(area: Area, registry: GridRegistry) -> tuple[float, float]:
    """A point inside the area, near its middle: the centre of its cell nearest the mean of its cells'
    centres that the registry puts in it (a centroid may lie outside a concave area)."""
    # Two resolutions coarser first: an area's middle needs no 10 m cells (49x fewer to fill at start).
    for resolution in range(max(registry.resolution - 2, 0), registry.resolution + 1):
        centres = [h3i.cell_to_latlng(c) for c in fill_cells(area, resolution)]
        if centres:
            break
    if not centres:  # smaller than a cell: its outer ring's first corner
        lng, lat = area.rings[0][0]
        return (lat, lng)
    mean = (sum(c[0] for c in centres) / len(centres), sum(c[1] for c in centres) / len(centres))
    ranked = sorted(centres, key=lambda c: (c[0] - mean[0]) ** 2 + (c[1] - mean[1]) ** 2)
    return next((c for c in ranked if _within(registry, area, *c)), ranked[0])


def _within(registry: GridRegistry, area: Area, lat: float, lng: float) -> bool:
    where = registry.locate(lat, lng)
    return area.id in (where.grid, where.community, where.street)


def _by_id_and_name(areas) -> dict:
    """Areas by id and by name without whitespace; a name two areas share names neither."""
    found, names = {}, {}
    for area in areas:
        names.setdefault(normalise_address(area.name), []).append(area)
    for name, same in names.items():
        if len(same) == 1 and name:
            found[name] = same[0]
    found.update({area.id: area for area in areas})
    return found
