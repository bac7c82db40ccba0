"""The simulated phones' tasks (任务): each phone reads its tasks now and then (GET /v1/tasks), accepts a new
one, walks to its place, stays there long enough for its own fixes to confirm the arrival, and marks it done
(POST /v1/tasks/{id}/actions), as a grid worker does. Pure: the simulator does the HTTP and the walking."""

from __future__ import annotations

from dataclasses import dataclass

OPEN = ("open", "accepted", "arrived")
POLL_SECONDS = 20.0  # a phone looks for new tasks this often
STAY_SECONDS = 90.0  # at the place: past the arrival dwell (config/tasks.toml [arrival] dwell, 60 s)


@dataclass
class Errand:
    task: str
    target: tuple[float, float]  # (lat, lng)
    accepted: bool = False
    there_since: float | None = None  # the simulator's monotonic clock, from the first step at the place

    def done(self, now: float) -> bool:
        """Stayed long enough: time to say so."""
        return self.there_since is not None and now - self.there_since >= STAY_SECONDS


def next_errand(tasks: list[dict], finished: set[str]) -> Errand | None:
    """The oldest task still open that this phone has not finished yet."""
    waiting = [t for t in tasks if t["status"] in OPEN and t["id"] not in finished]
    if not waiting:
        return None
    task = min(waiting, key=lambda t: t["created_at"])
    return Errand(task["id"], (task["location"]["lat"], task["location"]["lng"]), accepted=task["status"] != "open")


def done_note(task: str) -> dict:
    return {"action": "done", "note": "已到场处置完毕（模拟）", "id": f"done-{task}"}
