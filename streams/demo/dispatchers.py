"""`redwall simulate-dispatchers`: the demo's dispatchers at work. They read what is open from PostgreSQL
(`incidents`) and act as people do, through the worker's `POST /v1/incidents/{id}/actions` with tokens of
their own; what to do and when is the desk's (streams/demo/dispatch_desk.py). Every minute they log the open
count, which is how the demo's day is measured."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg

from config.geometry import load_geometry
from config.settings import Settings
from schemas import json
from sinks.credentials import issue_dispatcher_token
from streams.cli.credentials import community_ids, read_token_file
from streams.clock import stop_on_signals, stopped_within
from streams.demo.dispatch_desk import Desk, OpenIncident, Step, dispatcher_names

log = logging.getLogger(__name__)

OPEN = (
    "SELECT id, community_id, level, status, ack_by, resolve_by, paused_since, pause_approved FROM incidents "
    "WHERE status IN ('assigned', 'acknowledged')"
)
# The endpoint's answers (streams/http/README.md, Actions on incidents): 200 done, 409 refused by the engine
# with its reason, 404 unknown incident, 422 malformed, 202 no verdict in time (tried again later).
OUTCOMES = {
    200: "done",
    409: "refused",
    404: "unknown",
    422: "invalid",
    401: "forbidden",
    403: "forbidden",
    202: "pending",
    429: "pending",
}
CENSUS_SECONDS = 60.0


async def issue_tokens(settings: Settings) -> dict[str, str]:
    """Fresh tokens for every simulated dispatcher (a live one of the same name is replaced)."""
    names = dispatcher_names(sorted(community_ids(settings.geometry_path)))
    # The street's desk; in a district, the district's, which acts where each street's would.
    desk = "district" if load_geometry(settings.geometry_path, check_areas=False).district else "street"
    role = {True: "community", False: desk}
    return {
        name: await issue_dispatcher_token(settings.database_dsn, name, role[community is not None], community)
        for name, community in names.items()
    }


class Dispatchers:
    def __init__(self, settings: Settings, url: str, tokens: dict[str, str], desk: Desk, poll_seconds: float = 2.0):
        self.settings, self.url, self.tokens, self.desk = settings, url.rstrip("/"), tokens, desk
        self.poll_seconds, self.outcomes = poll_seconds, Counter()

    async def run(self, stop: asyncio.Event) -> Counter:
        async with (
            asyncpg.create_pool(self.settings.database_dsn, min_size=1, max_size=2) as pool,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http,
        ):
            last_census = 0.0
            while True:
                incidents = [_incident(r) for r in await pool.fetch(OPEN)]
                now = datetime.now(UTC)
                for step in self.desk.due(incidents, now):
                    outcome = await self.act(http, step)
                    self.outcomes[f"{step.action}:{outcome}"] += 1
                    self.desk.answered(step, outcome, datetime.now(UTC))
                if asyncio.get_running_loop().time() - last_census >= CENSUS_SECONDS:
                    last_census = asyncio.get_running_loop().time()
                    log.info("open incidents: %s", census(incidents, now))
                if await stopped_within(stop, self.poll_seconds):
                    return self.outcomes

    async def act(self, http: aiohttp.ClientSession, step: Step) -> str:
        body = {"id": step.id, "action": step.action, "reason": step.reason, **step.extra}
        headers = {"Authorization": f"Bearer {self.tokens[step.actor]}", "Content-Type": "application/json"}
        try:
            async with http.post(
                f"{self.url}/v1/incidents/{step.incident}/actions", data=json.dumps(body), headers=headers
            ) as resp:
                status, answer = resp.status, await resp.text()
        except (TimeoutError, aiohttp.ClientError) as error:
            log.warning(
                "%s %s %s: the worker did not answer (%s); trying again later",
                step.actor,
                step.action,
                step.incident,
                error,
            )
            return "failed"
        outcome = OUTCOMES.get(status, "failed")
        quiet = outcome in ("done", "pending")  # a refusal or a failure is worth its answer in the log
        log.log(
            logging.INFO if quiet else logging.WARNING,
            "%s %s %s (%s): %d %s%s",
            step.actor,
            step.action,
            step.incident,
            step.level,
            status,
            outcome,
            "" if quiet else f" {answer[:300]}",
        )
        return outcome


def census(incidents: list[OpenIncident], now: datetime) -> str:
    """`17 (assigned 5, acknowledged 12, paused 2; overdue 1)`: overdue as the console counts it."""
    by_status, paused = Counter(i.status for i in incidents), sum(1 for i in incidents if i.pause)
    overdue = sum(
        1
        for i in incidents
        if (i.status == "assigned" and i.ack_by is not None and i.ack_by <= now)
        or (i.resolve_by is not None and i.resolve_by <= now)
    )
    return (
        f"{len(incidents)} (assigned {by_status['assigned']}, acknowledged {by_status['acknowledged']}, "
        f"paused {paused}; overdue {overdue})"
    )


def _incident(row) -> OpenIncident:
    pause = None if row["paused_since"] is None else "approved" if row["pause_approved"] else "waiting"
    return OpenIncident(
        row["id"], row["community_id"], row["level"], row["status"], row["ack_by"], row["resolve_by"], pause
    )


def run_dispatchers(
    settings: Settings, *, url: str, tokens: Path | None, neglect: float, duration: float | None = None
) -> int:
    async def main() -> Counter:
        stop = stop_on_signals(duration)
        held = read_token_file(tokens) if tokens else await issue_tokens(settings)
        desk = Desk(
            {
                name: community
                for name, community in dispatcher_names(sorted(community_ids(settings.geometry_path))).items()
                if name in held
            },
            neglect=neglect,
        )
        print(
            f"{len(held)} simulated dispatchers acting on the open incidents through {url}; "
            f"{neglect:.0%} of those below the street left to escalate",
            flush=True,
        )
        return await Dispatchers(settings, url, held, desk).run(stop)

    outcomes = asyncio.run(main())
    print("dispatchers: " + " ".join(f"{k}={v}" for k, v in sorted(outcomes.items())), flush=True)
    return 0
