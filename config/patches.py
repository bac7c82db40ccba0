"""The measure of the geometry's area checks: sets of H3 cells whose centre lies in a polygon, and the
largest contiguous patch of offending cells (an overlap, a gap, a part outside), refused over tolerance."""

from __future__ import annotations

from pathlib import Path

from h3.api import basic_int as h3i

from config.rings import fail

# Area checks compare sets of resolution-13 cells (~31 m² each in Beijing) holding a polygon's
# centre. A contiguous patch of overlap or gap larger than the tolerance fails; rounding slivers
# along a shared edge catch a stray cell centre now and then and pass.
CHECK_RESOLUTION = 13
TOLERANCE_M2 = 100.0


class Patches:
    """Finds the largest contiguous patch of offending cells and raises when it is over tolerance."""

    def __init__(self, path: Path, cell_m2: float, grid_fills: dict[str, set[int]]):
        self.path, self.cell_m2, self.grid_fills = path, cell_m2, grid_fills

    def check(self, cells: set[int], where: str, problem: str, fix: str, near: bool = False) -> None:
        if len(cells) * self.cell_m2 <= TOLERANCE_M2:
            return
        patch = max(_patches(cells), key=len)
        if len(patch) * self.cell_m2 <= TOLERANCE_M2:
            return
        lat, lng = _middle(patch)
        message = f"about {len(patch) * self.cell_m2:.0f} m² near ({lat:.6f}, {lng:.6f}) {problem}"
        if near:
            message += f" (next to {self.neighbours(patch)})"
        raise fail(self.path, where, message, fix)

    def neighbours(self, patch: set[int]) -> str:
        around = {n for c in patch for n in h3i.grid_disk(c, 1)} - patch
        grids = [g for g, cells in self.grid_fills.items() if not cells.isdisjoint(around)]
        return "grids " + ", ".join(grids[:6]) if grids else "no grid"


def _patches(cells: set[int]) -> list[set[int]]:
    """Connected components of a cell set (cells sharing an edge are connected)."""
    left, found = set(cells), []
    while left:
        frontier = [left.pop()]
        patch = set(frontier)
        while frontier:
            for near in h3i.grid_disk(frontier.pop(), 1):
                if near in left:
                    left.remove(near)
                    patch.add(near)
                    frontier.append(near)
        found.append(patch)
    return found


def _middle(patch: set[int]) -> tuple[float, float]:
    """The centre of the patch cell nearest the patch's mean, so the point lies in the patch."""
    centres = [h3i.cell_to_latlng(c) for c in patch]
    lat = sum(p[0] for p in centres) / len(centres)
    lng = sum(p[1] for p in centres) / len(centres)
    return min(centres, key=lambda p: (p[0] - lat) ** 2 + (p[1] - lng) ** 2)
